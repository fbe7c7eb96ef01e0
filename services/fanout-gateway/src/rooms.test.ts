/**
 * Live gap healing in a Room: a republished message whose Nats-Last-Sequence is beyond the last offset delivered
 * means core NATS lost one; the room holds new messages, fetches the missing ones from history and delivers
 * everything once, in order. nats-server cannot be made to drop one republished message on purpose, so the NATS
 * subscription is a stub here; the rest of the gateway is tested through real sockets in test/gateway-*.test.ts.
 */
import { describe, expect, it } from "vitest";
import { headers as natsHeaders, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { createLogger, encodeBody } from "@switchboard/core";
import type { StoredMessage } from "@switchboard/protocol";
import { LiveRing, Room, type LiveEntry, type RoomDeps } from "./rooms.js";

function liveMsg(offset: number, prev: number): Msg {
  const body = encodeBody({ event: "e", dataJson: String(offset), timestamp: 1000 + offset });
  // Real nats.js headers, as the republished message carries them; only the members Room reads are provided.
  const h = natsHeaders();
  h.set("Nats-Stream", "rooms");
  h.set("Nats-Sequence", String(offset));
  h.set("Nats-Last-Sequence", String(prev));
  return { headers: h, string: () => body } as unknown as Msg;
}

function stored(offset: number): StoredMessage {
  return { room: "r", id: `m_${offset.toString(36)}`, offset, event: "e", data: offset, timestamp: 1000 + offset };
}

function setup() {
  let callback!: (err: Error | null, msg: Msg) => void;
  const nc = {
    subscribe: (_subject: string, opts: { callback: typeof callback }) => {
      callback = opts.callback;
      return { unsubscribe: () => undefined };
    },
    flush: () => Promise.resolve(),
  } as unknown as NatsConnection;
  const published: number[] = [];
  const fetches: Array<{ after: number; upTo: number; resolve: (m: StoredMessage[]) => void }> = [];
  let gaps = 0;
  const deps: RoomDeps = {
    nc,
    log: createLogger("rooms-test", "silent"),
    deliver: (_room, e) => published.push(e.offset),
    fetchRange: (_app, _room, after, upTo) => new Promise((resolve) => fetches.push({ after, upTo, resolve })),
    fetchAfter: (_app, _room, after) => new Promise((resolve) => fetches.push({ after, upTo: Infinity, resolve })),
    onDelivered: () => undefined,
    onGap: () => gaps++,
  };
  const room = new Room("app", "r", deps);
  return { room, send: (o: number, p: number) => callback(null, liveMsg(o, p)), published, fetches, gaps: () => gaps };
}

describe("Room live gap healing", () => {
  it("fetches the missed range, holds what arrives meanwhile, and delivers each offset once in order", async () => {
    const t = setup();
    t.send(1, 0);
    t.send(2, 1);
    t.send(5, 4); // 3 and 4 were lost
    t.send(6, 5); // arrives while healing
    expect(t.published).toEqual([1, 2]);
    expect(t.fetches.map((f) => [f.after, f.upTo])).toEqual([[2, 4]]);
    t.fetches[0]?.resolve([stored(3), stored(4)]);
    await new Promise((r) => setImmediate(r));
    expect(t.published).toEqual([1, 2, 3, 4, 5, 6]);
    expect(t.gaps()).toBe(1);
    t.send(6, 5); // a late duplicate
    t.send(7, 6);
    expect(t.published).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(t.room.lastOffset).toBe(7);
    expect(t.room.since(4).map((e) => e.offset)).toEqual([5, 6, 7]);
  });

  it("counts no gap when offsets of other rooms lie between (prev equals the last delivered)", () => {
    const t = setup();
    t.send(10, 0);
    t.send(40, 10);
    t.send(41, 40);
    expect(t.published).toEqual([10, 40, 41]);
    expect(t.fetches.length).toBe(0);
    expect(t.gaps()).toBe(0);
  });

  it("forgets a deleted message so a later switch to live does not resend it", () => {
    const t = setup();
    t.send(1, 0);
    t.send(2, 1);
    t.send(3, 2);
    t.room.forget(2);
    expect(t.room.since(0).map((e) => e.offset)).toEqual([1, 3]);
  });

  it("settles only after a heal delivered everything it held", async () => {
    const t = setup();
    t.send(1, 0);
    t.send(4, 3); // 2 and 3 lost: healing
    let settled = false;
    const done = t.room.settled().then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    t.fetches[0]?.resolve([stored(2), stored(3)]);
    await done;
    expect(t.published).toEqual([1, 2, 3, 4]);
    expect(t.room.since(0).map((e) => e.offset)).toEqual([1, 2, 3, 4]);
  });
});

describe("Room catch-up after a NATS reconnect", () => {
  it("reads everything after the last delivered offset, holds what arrives meanwhile, and delivers each once in order", async () => {
    const t = setup();
    t.send(1, 0);
    t.send(2, 1);
    // 3 and 4 were stored while disconnected; nothing arrives after the reconnect until the catch-up has started.
    const caught = t.room.catchUp();
    await new Promise((r) => setImmediate(r));
    expect(t.fetches.map((f) => [f.after, f.upTo])).toEqual([[2, Infinity]]);
    t.send(5, 4); // live again while catching up: held
    t.send(4, 3); // a late duplicate of what the catch-up reads
    expect(t.published).toEqual([1, 2]);
    t.fetches[0]?.resolve([stored(3), stored(4)]);
    expect(await caught).toBe(2);
    expect(t.published).toEqual([1, 2, 3, 4, 5]);
    expect(t.gaps()).toBe(0);
  });

  it("starts from the first socket's start when nothing was delivered yet, and skips a room that has none", async () => {
    const t = setup();
    expect(await t.room.catchUp()).toBe(0);
    expect(t.fetches.length).toBe(0);
    t.room.startAt(7);
    t.room.startAt(9); // a later socket does not move it
    const caught = t.room.catchUp();
    await new Promise((r) => setImmediate(r));
    expect(t.fetches.map((f) => f.after)).toEqual([7]);
    t.fetches[0]?.resolve([stored(8)]);
    expect(await caught).toBe(1);
    expect(t.published).toEqual([8]);
  });

  it("waits for a gap heal in progress, then reads after what the heal delivered", async () => {
    const t = setup();
    t.send(1, 0);
    t.send(4, 3); // healing 2..3
    const caught = t.room.catchUp();
    t.fetches[0]?.resolve([stored(2), stored(3)]);
    await new Promise((r) => setImmediate(r));
    expect(t.fetches.map((f) => [f.after, f.upTo])).toEqual([
      [1, 3],
      [4, Infinity],
    ]);
    t.fetches[1]?.resolve([]);
    expect(await caught).toBe(0);
    expect(t.published).toEqual([1, 2, 3, 4]);
  });
});

describe("LiveRing", () => {
  const entry = (offset: number): LiveEntry => ({ offset, prev: offset - 1, event: "e", body: String(offset) });

  it("keeps the newest entries in order once full, and forgets one", () => {
    const ring = new LiveRing(3);
    for (let o = 1; o <= 5; o++) ring.push(entry(o));
    expect(ring.length).toBe(3);
    expect(ring.since(0).map((e) => e.offset)).toEqual([3, 4, 5]);
    expect(ring.since(4).map((e) => e.offset)).toEqual([5]);
    ring.forget(4);
    expect(ring.since(0).map((e) => e.offset)).toEqual([3, 5]);
    ring.push(entry(6));
    ring.push(entry(7));
    expect(ring.since(0).map((e) => e.offset)).toEqual([5, 6, 7]);
  });
});
