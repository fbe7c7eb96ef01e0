/**
 * The history read cache (services/history/src/cache.ts) through real auth, publish-ingest and history processes:
 * pages served from memory are exactly the pages JetStream holds — a publish answered 201 is in the very next page,
 * a moderation delete is gone from it, retention still hides and trims, paging is exact while messages arrive —
 * and the cache stays inside its byte budget. `switchboard_history_cache_reads_total` tells which pages came from
 * memory (`hit`) and which were read from JetStream (`cold`, `stale`, `behind`, `retention`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvKeys, type AppRecord } from "@switchboard/core";
import { startCluster, type Cluster } from "./helpers/cluster.js";
import { createApp, historyJson, messagesPath as qs, openTestNats, publishMany, type Page } from "./helpers/history.js";
import { ingest } from "./helpers/ingest.js";

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ services: ["auth", "publish-ingest", "history"] });
}, 120_000);

afterAll(async () => {
  await cluster?.close();
});

async function metric(c: Cluster, name: string, label = ""): Promise<number> {
  const text = await (await fetch(`${c.url("history")}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`switchboard_${name}`) && l.includes(label));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
}
const reads = (c: Cluster, result: string) => metric(c, "history_cache_reads_total{", `result="${result}"`);

/** Reads the room's newest page until one is served from the cache (the room loads in the background). */
async function warm(c: Cluster, room: string, key: string = c.devKey): Promise<Page> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const before = await reads(c, "hit");
    const page = await historyJson(c, qs(room, { limit: 100 }), key);
    if ((await reads(c, "hit")) === before + 1) return page;
    if (Date.now() > deadline) {
      const text = await (await fetch(`${c.url("history")}/metrics`)).text();
      throw new Error(
        `room ${room} was never served from the cache: ${text
          .split("\n")
          .filter((l) => l.startsWith("switchboard_history_cache"))
          .join("; ")}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function pageAll(
  c: Cluster,
  room: string,
  first: Record<string, string | number | undefined>,
  between: () => Promise<void> = async () => undefined,
  key = c.devKey,
) {
  const pages: Page[] = [];
  let page = await historyJson(c, qs(room, first), key);
  pagesRead++;
  pages.push(page);
  while (page.next !== null) {
    await between();
    page = await historyJson(c, qs(room, { next: page.next, limit: first["limit"] }), key);
    pagesRead++;
    pages.push(page);
    if (pages.length > 100) throw new Error("paging did not end");
  }
  return pages;
}
/** Pages read by pageAll, to compare with the cache's hits. */
let pagesRead = 0;
const offsetsOf = (pages: Page[]) => pages.flatMap((p) => p.messages.map((m) => m.offset));

async function setRetention(c: Cluster, appId: string, retention: AppRecord["retention"]): Promise<void> {
  const nats = await openTestNats(c);
  try {
    const kv = await nats.kv("sb_apps");
    const e = await kv.get(KvKeys.app(appId));
    const record = (e === null ? { id: appId, name: appId, createdAt: Date.now() } : JSON.parse(e.string())) as AppRecord;
    await kv.put(KvKeys.app(appId), JSON.stringify({ ...record, retention }));
  } finally {
    await nats.close();
  }
}

describe("history cache", () => {
  it("has every publish answered 201 in the very next page, served from the cache", async () => {
    const room = "cache:ryw";
    const seeded = await publishMany(cluster, room, 20);
    expect((await warm(cluster, room)).messages.map((m) => m.offset)).toEqual([...seeded].reverse());
    const [hits, behind, stale] = [await reads(cluster, "hit"), await reads(cluster, "behind"), await reads(cluster, "stale")];
    const mine: number[] = [];
    for (let i = 0; i < 30; i++) {
      const [offset] = await publishMany(cluster, room, 1, { concurrency: 1, from: 100 + i });
      mine.push(offset!);
      const page = await historyJson(cluster, qs(room, { limit: 2 }));
      expect(page.messages.map((m) => m.offset)).toEqual([offset, i === 0 ? seeded[19] : mine[i - 1]]);
      expect(page.messages[0]!.data).toBe(100 + i);
    }
    expect(await reads(cluster, "stale")).toBe(stale);
    // Every page came from memory, or (a CPU-starved consumer) from JetStream after the bounded wait.
    expect((await reads(cluster, "hit")) - hits + ((await reads(cluster, "behind")) - behind)).toBe(30);
    expect((await reads(cluster, "hit")) - hits).toBeGreaterThan(0);
  });

  it("drops a message deleted through publish-ingest from the very next page, then serves the room from memory again", async () => {
    const room = "cache:delete";
    const mine = await publishMany(cluster, room, 5, { concurrency: 1 });
    await warm(cluster, room);
    const stale = await reads(cluster, "stale");
    const del = await ingest(cluster, "DELETE", `/v1/rooms/${room}/messages/m_${mine[2]!.toString(36)}`);
    expect(del.status).toBeLessThan(300);
    const page = await historyJson(cluster, qs(room, { limit: 100 }));
    expect(page.messages.map((m) => m.offset)).toEqual([mine[4], mine[3], mine[1], mine[0]]);
    expect(await reads(cluster, "stale")).toBe(stale + 1);
    // Loaded again from the stream: the same exact answer from memory, both directions.
    expect((await warm(cluster, room)).messages.map((m) => m.offset)).toEqual([mine[4], mine[3], mine[1], mine[0]]);
    const hits = await reads(cluster, "hit");
    const fwd = await pageAll(cluster, room, { limit: 2, direction: "forwards" });
    expect(offsetsOf(fwd)).toEqual([mine[0], mine[1], mine[3], mine[4]]);
    expect(await reads(cluster, "hit")).toBe(hits + 2);
    // Deleting the newest and then the oldest message: both are cut from memory (no reload), gone from the next page.
    const revalidated = await reads(cluster, "revalidated");
    const staleNow = await reads(cluster, "stale");
    expect((await ingest(cluster, "DELETE", `/v1/rooms/${room}/messages/m_${mine[4]!.toString(36)}`)).status).toBeLessThan(300);
    expect((await historyJson(cluster, qs(room, { limit: 100 }))).messages.map((m) => m.offset)).toEqual([mine[3], mine[1], mine[0]]);
    expect((await ingest(cluster, "DELETE", `/v1/rooms/${room}/messages/m_${mine[0]!.toString(36)}`)).status).toBeLessThan(300);
    expect((await historyJson(cluster, qs(room, { limit: 100 }))).messages.map((m) => m.offset)).toEqual([mine[3], mine[1]]);
    expect(await reads(cluster, "revalidated")).toBe(revalidated + 2);
    expect(await reads(cluster, "stale")).toBe(staleNow);
    const [added] = await publishMany(cluster, room, 1, { concurrency: 1 });
    expect((await historyJson(cluster, qs(room, { limit: 100, direction: "forwards" }))).messages.map((m) => m.offset)).toEqual([
      mine[1],
      mine[3],
      added,
    ]);
  });

  it("pages a cached room exactly once in both directions while messages arrive, with bounds", async () => {
    const room = "cache:paging";
    const [seeded] = await Promise.all([publishMany(cluster, room, 250), publishMany(cluster, "cache:noise", 120)]);
    let offsets = seeded;
    await warm(cluster, room);
    const hits = await reads(cluster, "hit");
    const pagesBefore = pagesRead;
    let arrived: number[] = [];
    const back = await pageAll(cluster, room, { limit: 100 }, async () => {
      arrived = arrived.concat(await publishMany(cluster, room, 15, { from: 1000 + arrived.length }));
    });
    expect(back.map((p) => p.messages.length)).toEqual([100, 100, 50]);
    expect(offsetsOf(back)).toEqual([...offsets].reverse());
    expect(arrived.length).toBe(30);
    expect(back[0]!.messages[0]).toMatchObject({ room, offset: offsets[249], id: `m_${offsets[249]!.toString(36)}`, event: "m" });
    offsets = [...offsets, ...arrived].sort((a, b) => a - b);
    const total = offsets.length;
    arrived = [];
    const fwd = await pageAll(cluster, room, { limit: 100, direction: "forwards" }, async () => {
      arrived = arrived.concat(await publishMany(cluster, room, 10, { from: 2000 + arrived.length }));
    });
    expect(fwd.map((p) => p.messages.length)).toEqual([100, 100, 80]);
    expect(offsetsOf(fwd)).toEqual(offsets.slice(0, total));
    offsets = [...offsets, ...arrived].sort((a, b) => a - b);
    const rest = await pageAll(cluster, room, { limit: 7, direction: "forwards", after: offsets[total - 1] });
    expect(rest.map((p) => p.messages.length)).toEqual([7, 7, 6]);
    expect(offsetsOf(rest)).toEqual(arrived.sort((a, b) => a - b));
    const after = offsets[9]!;
    const before = offsets[60]!;
    const inside = offsets.slice(10, 60);
    expect(offsetsOf(await pageAll(cluster, room, { limit: 20, after, before }))).toEqual([...inside].reverse());
    expect(offsetsOf(await pageAll(cluster, room, { limit: 20, direction: "forwards", after, before }))).toEqual(inside);
    const uneven = await pageAll(cluster, room, { limit: 33 });
    expect(uneven.map((p) => p.messages.length)).toEqual([33, 33, 33, 33, 33, 33, 33, 33, 33, 3]);
    expect(offsetsOf(uneven)).toEqual([...offsets].reverse());
    // Time bounds filter exactly on timestamp.
    const all = offsetsOf(await pageAll(cluster, room, { limit: 100, direction: "forwards" }));
    expect(all).toEqual(offsets);
    const msgs = (await pageAll(cluster, room, { limit: 100, direction: "forwards" })).flatMap((p) => p.messages);
    const start = msgs[40]!.timestamp;
    const end = msgs[200]!.timestamp;
    const want = msgs.filter((m) => m.timestamp >= start && m.timestamp <= end).map((m) => m.offset);
    expect(offsetsOf(await pageAll(cluster, room, { limit: 50, start, end }))).toEqual([...want].reverse());
    expect(offsetsOf(await pageAll(cluster, room, { limit: 50, direction: "forwards", start, end }))).toEqual(want);
    // Every page from memory (nothing was removed).
    expect(pagesRead - pagesBefore).toBeGreaterThan(30);
    expect((await reads(cluster, "hit")) - hits).toBe(pagesRead - pagesBefore);
  });

  it("hides messages older than the app's max age and trims to the app's count, from a cached room", async () => {
    const aged = await createApp(cluster, "cache-aged");
    await setRetention(cluster, aged.appId, { maxAgeMs: 1500 });
    const old = await publishMany(cluster, "cache:age", 3, { concurrency: 1, key: aged.key });
    const oldest = (await warm(cluster, "cache:age", aged.key)).messages;
    expect(oldest.map((m) => m.offset)).toEqual([...old].reverse());
    const hideAt = Math.max(...oldest.map((m) => m.timestamp)) + 1500;
    while (Date.now() <= hideAt + 50) await new Promise((r) => setTimeout(r, hideAt + 60 - Date.now()));
    const fresh = await publishMany(cluster, "cache:age", 2, { concurrency: 1, key: aged.key });
    const hits = await reads(cluster, "hit");
    expect((await historyJson(cluster, qs("cache:age", {}), aged.key)).messages.map((m) => m.offset)).toEqual([...fresh].reverse());
    expect((await historyJson(cluster, qs("cache:age", { direction: "forwards" }), aged.key)).messages.map((m) => m.offset)).toEqual(fresh);
    expect(await reads(cluster, "hit")).toBe(hits + 2);

    const small = await createApp(cluster, "cache-small");
    await setRetention(cluster, small.appId, { maxMessagesPerRoom: 5 });
    const first = await publishMany(cluster, "cache:count", 8, { concurrency: 1, key: small.key });
    // The first read trims the room in the stream (a removal), so the cache loads it afterwards.
    expect((await historyJson(cluster, qs("cache:count", {}), small.key)).messages.map((m) => m.offset)).toEqual(first.slice(3).reverse());
    expect((await warm(cluster, "cache:count", small.key)).messages.map((m) => m.offset)).toEqual(first.slice(3).reverse());
    const more = await publishMany(cluster, "cache:count", 2, { concurrency: 1, key: small.key });
    const kept = [...first, ...more].slice(-5);
    const trims = await reads(cluster, "retention");
    expect((await historyJson(cluster, qs("cache:count", {}), small.key)).messages.map((m) => m.offset)).toEqual([...kept].reverse());
    expect(await reads(cluster, "retention")).toBe(trims + 1);
    expect(
      (await historyJson(cluster, qs("cache:count", { direction: "forwards", limit: 2 }), small.key)).messages.map((m) => m.offset),
    ).toEqual(kept.slice(0, 2));
    // The dev app's room of the same name is not affected.
    expect((await historyJson(cluster, qs("cache:count", {}))).messages).toEqual([]);
  });
});

describe("history cache with the stream's max age", () => {
  let aging: Cluster;
  beforeAll(async () => {
    aging = await startCluster({ services: ["auth", "publish-ingest", "history"], env: { SWITCHBOARD_RETENTION_MAX_AGE: "3s" } });
  }, 120_000);
  afterAll(async () => {
    await aging?.close();
  });

  it("stops serving messages the stream expired", async () => {
    const offsets = await publishMany(aging, "cache:expire", 3, { concurrency: 1 });
    expect((await warm(aging, "cache:expire")).messages.map((m) => m.offset)).toEqual([...offsets].reverse());
    const checks = (await reads(aging, "stale")) + (await reads(aging, "revalidated"));
    // JetStream's own expiry timer has no event to wait for: poll the page.
    const deadline = Date.now() + 20_000;
    let page = await historyJson(aging, qs("cache:expire", {}));
    while (page.messages.length > 0) {
      // Whatever the cache holds, a page never shows a message the stream no longer has: the count only shrinks
      // from the oldest end.
      expect(page.messages.map((m) => m.offset)).toEqual([...offsets].reverse().slice(0, page.messages.length));
      if (Date.now() > deadline) throw new Error("messages never expired");
      await new Promise((r) => setTimeout(r, 100));
      page = await historyJson(aging, qs("cache:expire", {}));
    }
    expect(page).toEqual({ messages: [], next: null });
    // The expiries were noticed (a removal at the room's old end is cut from memory, or the room reloaded).
    expect((await reads(aging, "stale")) + (await reads(aging, "revalidated"))).toBeGreaterThan(checks);
  });
});

describe("history cache under a tiny byte budget", () => {
  let tiny: Cluster;
  const BUDGET = 25_000;
  beforeAll(async () => {
    tiny = await startCluster({
      services: ["auth", "publish-ingest", "history"],
      env: { SWITCHBOARD_HISTORY_CACHE_BYTES: String(BUDGET), SWITCHBOARD_RETENTION_MAX_MESSAGES: "60" },
    });
  }, 120_000);
  afterAll(async () => {
    await tiny?.close();
  });

  it("evicts the least recently read room to stay inside the budget, and still answers it exactly", async () => {
    const a = await publishMany(tiny, "cache:a", 50, { concurrency: 1 });
    const b = await publishMany(tiny, "cache:b", 50, { concurrency: 1 });
    expect((await warm(tiny, "cache:a")).messages.map((m) => m.offset)).toEqual([...a].reverse());
    expect(await metric(tiny, "history_cache_rooms{")).toBe(1);
    const bytesA = await metric(tiny, "history_cache_bytes{");
    expect(bytesA).toBeGreaterThan(10_000);
    expect(bytesA).toBeLessThanOrEqual(BUDGET);
    const evicted = await metric(tiny, "history_cache_evictions_total{", 'reason="budget"');
    expect((await warm(tiny, "cache:b")).messages.map((m) => m.offset)).toEqual([...b].reverse());
    expect(await metric(tiny, "history_cache_evictions_total{", 'reason="budget"')).toBe(evicted + 1);
    expect(await metric(tiny, "history_cache_rooms{")).toBe(1);
    expect(await metric(tiny, "history_cache_bytes{")).toBeLessThanOrEqual(BUDGET);
    // Room a is read from JetStream again (and reloaded, evicting b): the same exact answer either way.
    const cold = await reads(tiny, "cold");
    expect((await historyJson(tiny, qs("cache:a", { limit: 100 }))).messages.map((m) => m.offset)).toEqual([...a].reverse());
    expect(await reads(tiny, "cold")).toBe(cold + 1);
    expect(offsetsOf(await pageAll(tiny, "cache:b", { limit: 20, direction: "forwards" }))).toEqual(b);
  });

  it("cuts messages the stream's per-room limit removed from a cached room and keeps serving it from memory", async () => {
    const first = await publishMany(tiny, "cache:limit", 60, { concurrency: 1 });
    expect((await warm(tiny, "cache:limit")).messages.map((m) => m.offset)).toEqual([...first].reverse().slice(0, 60));
    const more = await publishMany(tiny, "cache:limit", 5, { concurrency: 1 });
    const kept = [...first, ...more].slice(-60);
    const [revalidated, hits, stale] = [await reads(tiny, "revalidated"), await reads(tiny, "hit"), await reads(tiny, "stale")];
    const page = await historyJson(tiny, qs("cache:limit", { limit: 100 }));
    expect(page.messages.map((m) => m.offset)).toEqual([...kept].reverse());
    expect(await reads(tiny, "revalidated")).toBe(revalidated + 1);
    expect(await reads(tiny, "stale")).toBe(stale);
    const fwd = await pageAll(tiny, "cache:limit", { limit: 25, direction: "forwards" });
    expect(offsetsOf(fwd)).toEqual(kept);
    expect(await reads(tiny, "hit")).toBe(hits + 3);
  });
});
