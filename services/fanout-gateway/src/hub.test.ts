/**
 * The room hub with a stub NATS connection: one live subscription per room however many sockets reference it,
 * dropped with the last reference, and each live message handed to the delivery sink as the stored body (the hub
 * builds no frame).
 */
import { describe, expect, it } from "vitest";
import { headers as natsHeaders, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { Subjects, createLogger, encodeBody } from "@switchboard/core";
import { RoomHub } from "./hub.js";
import type { LiveEntry, Room, RoomDeps } from "./rooms.js";

function setup(fetchAfter: RoomDeps["fetchAfter"] = () => Promise.resolve([])) {
  const subs = new Map<string, { callback: (err: Error | null, msg: Msg) => void; closed: boolean }>();
  const nc = {
    subscribe: (subject: string, opts: { callback: (err: Error | null, msg: Msg) => void }) => {
      const s = { callback: opts.callback, closed: false };
      subs.set(subject, s);
      return {
        unsubscribe: () => {
          s.closed = true;
        },
      };
    },
    flush: () => Promise.resolve(),
  } as unknown as NatsConnection;
  const delivered: Array<{ room: Room; entry: LiveEntry }> = [];
  const hub = new RoomHub({
    nc,
    log: createLogger("hub-test", "silent"),
    deliver: (room, entry) => delivered.push({ room, entry }),
    fetchRange: () => Promise.resolve([]),
    fetchAfter,
    onDelivered: () => undefined,
    onGap: () => undefined,
  });
  return { hub, subs, delivered };
}

function liveMsg(body: string, offset: number, prev: number): Msg {
  // Real nats.js headers, as the republished message carries them; only the members Room reads are provided.
  const h = natsHeaders();
  h.set("Nats-Stream", "rooms");
  h.set("Nats-Sequence", String(offset));
  h.set("Nats-Last-Sequence", String(prev));
  return { headers: h, string: () => body } as unknown as Msg;
}

describe("RoomHub", () => {
  it("subscribes a room's live subject once for every reference and drops it with the last", () => {
    const t = setup();
    const a = t.hub.acquire("app", "r");
    const b = t.hub.acquire("app", "r");
    expect(b).toBe(a);
    expect([...t.subs.keys()]).toEqual([Subjects.live("app", "r")]);
    expect(t.hub.size).toBe(1);
    expect(t.hub.get("app", "r")).toBe(a);
    t.hub.release(a);
    expect(t.subs.get(Subjects.live("app", "r"))?.closed).toBe(false);
    expect(t.hub.size).toBe(1);
    t.hub.release(b);
    expect(t.subs.get(Subjects.live("app", "r"))?.closed).toBe(true);
    expect(t.hub.size).toBe(0);
    expect(t.hub.get("app", "r")).toBeUndefined();
  });

  it("keeps rooms of different apps apart", () => {
    const t = setup();
    const a = t.hub.acquire("app1", "r");
    const b = t.hub.acquire("app2", "r");
    expect(b).not.toBe(a);
    expect(t.hub.size).toBe(2);
    expect([...t.hub.all()]).toEqual([a, b]);
  });

  it("hands each live message to the sink once, as its stored body and event", () => {
    const t = setup();
    const room = t.hub.acquire("app", "r");
    const body = encodeBody({ event: "chat", dataJson: '{"x":1}', timestamp: 1000 });
    const sub = t.subs.get(Subjects.live("app", "r"));
    sub?.callback(null, liveMsg(body, 7, 0));
    sub?.callback(null, liveMsg(body, 7, 0)); // a duplicate
    expect(t.delivered).toEqual([{ room, entry: { offset: 7, prev: 0, event: "chat", body } }]);
    expect(room.lastOffset).toBe(7);
  });

  it("catches every room up, a bounded number at once, and counts what all of them read back", async () => {
    let reading = 0;
    let most = 0;
    const t = setup(async (_app, room, after) => {
      most = Math.max(most, ++reading);
      await new Promise((r) => setImmediate(r));
      reading--;
      const offset = after + 1;
      return [{ room, id: `m_${offset}`, offset, event: "e", data: null, timestamp: 1 }];
    });
    for (const [i, name] of ["a", "b", "c"].entries()) t.hub.acquire("app", name).startAt(10 * (i + 1));
    t.hub.acquire("app", "none"); // delivered nothing and has no socket start: not read
    expect(await t.hub.catchUp(2)).toEqual({ rooms: 4, messages: 3 });
    expect(most).toBe(2);
    expect(t.delivered.map((d) => [d.room.name, d.entry.offset])).toEqual([
      ["a", 11],
      ["b", 21],
      ["c", 31],
    ]);
  });
});
