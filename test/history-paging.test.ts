/**
 * History paging (docs/HTTP-API.md) against real auth, publish-ingest and history processes: exact offsets, every
 * message exactly once in both directions while new messages arrive, bounds, the limit, deletions.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCluster, type Cluster } from "./helpers/cluster.js";
import { historyGet, historyJson, messagesPath as qs, publishMany, type Page } from "./helpers/history.js";

let cluster: Cluster;
const ROOM = "page:main";
let offsets: number[] = [];

beforeAll(async () => {
  cluster = await startCluster({ services: ["auth", "publish-ingest", "history"] });
  // 250 messages in the room, among another room's traffic (so the room's offsets are not contiguous).
  const [mine] = await Promise.all([publishMany(cluster, ROOM, 250), publishMany(cluster, "page:noise", 120)]);
  offsets = mine;
}, 120_000);

afterAll(async () => {
  await cluster?.close();
});

/** Reads every page, following `next`, while `during` runs between pages. */
async function pageAll(
  room: string,
  first: Record<string, string | number | undefined>,
  between: () => Promise<void> = async () => undefined,
) {
  const pages: Page[] = [];
  let page = await historyJson(cluster, qs(room, first));
  pages.push(page);
  while (page.next !== null) {
    await between();
    page = await historyJson(cluster, qs(room, { next: page.next, limit: first["limit"] }));
    pages.push(page);
    if (pages.length > 100) throw new Error("paging did not end");
  }
  return pages;
}

describe("paging", () => {
  it("pages backwards through every message exactly once while new messages arrive", async () => {
    let arrived: number[] = [];
    const pages = await pageAll(ROOM, { limit: 100 }, async () => {
      arrived = arrived.concat(await publishMany(cluster, ROOM, 15, { from: 1000 + arrived.length }));
    });
    expect(pages.map((p) => p.messages.length)).toEqual([100, 100, 50]);
    const seen = pages.flatMap((p) => p.messages.map((m) => m.offset));
    // The first page started at the room's end then; later arrivals are above it and not part of this walk.
    expect(seen).toEqual([...offsets].reverse());
    expect(arrived.length).toBe(30);
    expect(Math.min(...arrived)).toBeGreaterThan(offsets[249]!);
    // Ids and data match offsets exactly (data is the publish index; ids derive from offsets).
    const firstPage = pages[0]!.messages;
    expect(firstPage[0]).toMatchObject({ room: ROOM, offset: offsets[249], id: `m_${offsets[249]!.toString(36)}`, event: "m" });
    offsets = [...offsets, ...arrived].sort((a, b) => a - b);
  });

  it("pages forwards through every message exactly once while new messages arrive, ending at the first page's end", async () => {
    const total = offsets.length; // 280
    let arrived: number[] = [];
    const pages = await pageAll(ROOM, { limit: 100, direction: "forwards" }, async () => {
      arrived = arrived.concat(await publishMany(cluster, ROOM, 10, { from: 2000 + arrived.length }));
    });
    expect(pages.map((p) => p.messages.length)).toEqual([100, 100, 80]);
    expect(pages.flatMap((p) => p.messages.map((m) => m.offset))).toEqual(offsets.slice(0, total));
    offsets = [...offsets, ...arrived].sort((a, b) => a - b);
    // A forwards read after the last offset seen continues with exactly the arrivals.
    const rest = await pageAll(ROOM, { limit: 7, direction: "forwards", after: offsets[total - 1] });
    expect(rest.map((p) => p.messages.length)).toEqual([7, 7, 6]);
    expect(rest.flatMap((p) => p.messages.map((m) => m.offset))).toEqual(arrived.sort((a, b) => a - b));
  });

  it("pages with an uneven limit in both directions", async () => {
    const back = await pageAll(ROOM, { limit: 33 });
    expect(back.map((p) => p.messages.length)).toEqual([33, 33, 33, 33, 33, 33, 33, 33, 33, 3]);
    expect(back.flatMap((p) => p.messages.map((m) => m.offset))).toEqual([...offsets].reverse());
    const fwd = await pageAll(ROOM, { limit: 100, direction: "forwards" });
    expect(fwd.flatMap((p) => p.messages.map((m) => m.offset))).toEqual(offsets);
  });
});

describe("bounds", () => {
  it("honours before and after (exclusive offsets) in both directions, with paging", async () => {
    const after = offsets[9]!;
    const before = offsets[60]!;
    const inside = offsets.slice(10, 60);
    const fwd = await pageAll(ROOM, { limit: 20, direction: "forwards", after, before });
    expect(fwd.map((p) => p.messages.length)).toEqual([20, 20, 10]);
    expect(fwd.flatMap((p) => p.messages.map((m) => m.offset))).toEqual(inside);
    const back = await pageAll(ROOM, { limit: 20, after, before });
    expect(back.map((p) => p.messages.length)).toEqual([20, 20, 10]);
    expect(back.flatMap((p) => p.messages.map((m) => m.offset))).toEqual([...inside].reverse());
  });

  it("honours start and end (ms, inclusive, on timestamp) with full pages while more messages match", async () => {
    const all = (await pageAll(ROOM, { limit: 100, direction: "forwards" })).flatMap((p) => p.messages);
    expect(all.length).toBe(offsets.length);
    const start = all[40]!.timestamp;
    const end = all[200]!.timestamp;
    const want = all.filter((m) => m.timestamp >= start && m.timestamp <= end).map((m) => m.offset);
    expect(want.length).toBeGreaterThanOrEqual(161);
    const fwd = await pageAll(ROOM, { limit: 50, direction: "forwards", start, end });
    const fwdSizes = fwd.map((p) => p.messages.length);
    expect(fwdSizes.slice(0, -1).every((n) => n === 50)).toBe(true);
    expect(fwd.flatMap((p) => p.messages.map((m) => m.offset))).toEqual(want);
    const back = await pageAll(ROOM, { limit: 50, start, end });
    expect(back.slice(0, -1).every((p) => p.messages.length === 50)).toBe(true);
    expect(back.flatMap((p) => p.messages.map((m) => m.offset))).toEqual([...want].reverse());
    // Only start, only end.
    const fromStart = await pageAll(ROOM, { limit: 100, direction: "forwards", start });
    expect(fromStart.flatMap((p) => p.messages.map((m) => m.offset))).toEqual(all.filter((m) => m.timestamp >= start).map((m) => m.offset));
    const toEnd = await historyJson(cluster, qs(ROOM, { limit: 5, end }));
    expect(toEnd.messages.map((m) => m.offset)).toEqual(
      all
        .filter((m) => m.timestamp <= end)
        .map((m) => m.offset)
        .reverse()
        .slice(0, 5),
    );
    // A window with nothing in it.
    expect(await historyJson(cluster, qs(ROOM, { start: 1, end: 2 }))).toEqual({ messages: [], next: null });
  });

  it("answers an empty room with no messages and no cursor", async () => {
    expect(await historyJson(cluster, qs("page:empty", {}))).toEqual({ messages: [], next: null });
    expect(await historyJson(cluster, qs("page:empty", { direction: "forwards" }))).toEqual({ messages: [], next: null });
  });

  it("refuses a limit above 100 with 400 naming limit, and a cursor it did not issue", async () => {
    for (const limit of [101, 0, 1000]) {
      const res = await historyGet(cluster, qs(ROOM, { limit }));
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("bad_request");
      expect(body.error.message).toMatch(/limit/);
    }
    const bad = await historyGet(cluster, qs(ROOM, { next: "bm90LWEtY3Vyc29y" }));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/next/);
    const dir = await historyGet(cluster, qs(ROOM, { direction: "sideways" }));
    expect(dir.status).toBe(400);
    const room = await historyGet(cluster, "/v1/rooms/bad.room/messages");
    expect(room.status).toBe(400);
    expect(((await room.json()) as { error: { code: string } }).error.code).toBe("invalid_room");
  });

  it("refuses bad query values with parseHistoryQuery's code and message, as the socket and NATS do", async () => {
    const cases: Array<[Record<string, string | number>, string]> = [
      [{ direction: "sideways" }, 'direction must be "backwards" or "forwards"'],
      [{ before: 0 }, "before must be an offset: an integer of at least 1"],
      [{ after: -1 }, "after must be an offset: an integer of at least 0"],
      [{ end: "soon" }, "end must be a time in epoch ms: an integer of at least 0"],
      [{ limit: "1e2" }, "limit must be an integer from 1 to 100"],
      [{ lmit: 5 }, 'unknown field "lmit"; use limit, direction, before, after, start, end, next'],
    ];
    for (const [params, message] of cases) {
      const res = await historyGet(cluster, qs(ROOM, params));
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: { code: "bad_request", message } });
    }
  });

  it("does not return a deleted message", async () => {
    const room = "page:deleted";
    const mine = await publishMany(cluster, room, 5, { concurrency: 1 });
    const del = await fetch(`${cluster.url("publish-ingest")}/v1/rooms/${room}/messages/m_${mine[2]!.toString(36)}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${cluster.devKey}` },
    });
    expect(del.status).toBeLessThan(300);
    const page = await historyJson(cluster, qs(room, { limit: 100 }));
    expect(page.messages.map((m) => m.offset)).toEqual([mine[4], mine[3], mine[1], mine[0]]);
    const fwd = await pageAll(room, { limit: 2, direction: "forwards" });
    expect(fwd.flatMap((p) => p.messages.map((m) => m.offset))).toEqual([mine[0], mine[1], mine[3], mine[4]]);
  });
});
