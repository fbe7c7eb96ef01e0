import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SwitchboardError } from "@switchboard/protocol/errors";
import { PendingRequests, type Pending } from "./pending.js";

function request(type: Pending["type"], retry: boolean) {
  const seen: { result?: unknown; error?: SwitchboardError } = {};
  const p: Pending = {
    type,
    fields: { room: "r" },
    retry,
    resolve: (v: never) => (seen.result = v),
    reject: (e: unknown) => (seen.error = e as SwitchboardError),
  };
  return { p, seen };
}

describe("PendingRequests", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("numbers frames from 1 and settles each by its id", () => {
    const q = new PendingRequests(() => 1000);
    const sent: string[] = [];
    const a = request("subscribe", true);
    const b = request("history", true);
    q.send(a.p, (t) => sent.push(t));
    q.send(b.p, (t) => sent.push(t));
    expect(sent.map((t) => JSON.parse(t) as unknown)).toEqual([
      { room: "r", type: "subscribe", id: 1 },
      { room: "r", type: "history", id: 2 },
    ]);
    expect(q.settle(2, { ok: false, error: new SwitchboardError("not_found", "x") })).toBe(true);
    expect(q.settle(1, { ok: true, result: { offset: 3 } })).toBe(true);
    expect(q.settle(1, { ok: true, result: null })).toBe(false);
    expect(q.settle(null, { ok: true, result: null })).toBe(false);
    expect(a.seen).toEqual({ result: { offset: 3 } });
    expect(b.seen.error?.code).toBe("not_found");
  });

  it("fails a request with unavailable when no reply comes in time", () => {
    const q = new PendingRequests(() => 1000);
    const a = request("ping", true);
    q.send(a.p, () => undefined);
    vi.advanceTimersByTime(999);
    expect(a.seen).toEqual({});
    vi.advanceTimersByTime(1);
    expect(a.seen.error?.message).toBe("no reply to ping within 1000 ms; retry");
    expect(q.settle(1, { ok: true, result: null })).toBe(false);
  });

  it("on a lost connection queues what may be retried, in order after what already waited, and fails the rest", () => {
    const q = new PendingRequests(() => 1000);
    const waiting = request("presence.join", true);
    const retried = request("subscribe", true);
    const once = request("publish", false);
    q.wait(waiting.p);
    q.send(retried.p, () => undefined);
    q.send(once.p, () => undefined);
    q.connectionLost();
    expect(once.seen.error?.message).toBe("connection lost before the reply to publish; retry");
    expect(q.takeQueued().map((p) => p.type)).toEqual(["presence.join", "subscribe"]);
    expect(q.takeQueued()).toEqual([]);
    vi.advanceTimersByTime(5000);
    expect(retried.seen).toEqual({});
  });

  it("fails everything, sent or waiting, with the error given", () => {
    const q = new PendingRequests(() => 1000);
    const a = request("ping", true);
    const b = request("ping", true);
    q.send(a.p, () => undefined);
    q.wait(b.p);
    const err = new SwitchboardError("unauthorized", "closed 4004");
    q.failAll(err);
    expect([a.seen.error, b.seen.error]).toEqual([err, err]);
    expect(q.settle(1, { ok: true, result: null })).toBe(false);
  });
});
