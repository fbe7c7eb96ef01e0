/**
 * Retention (docs/HTTP-API.md): the stream's max age (short, from SWITCHBOARD_RETENTION_MAX_AGE) removes old messages
 * and the room stops being active; an app record asking for a shorter age or fewer messages per room is enforced
 * by history, and only for that app.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvKeys, STREAM_ROOMS, Subjects, type AppRecord } from "@switchboard/core";
import { startCluster, type Cluster } from "./helpers/cluster.js";
import { createApp, historyJson, openTestNats, publishMany, type TestNats } from "./helpers/history.js";

const STREAM_MAX_AGE_MS = 4000;
let cluster: Cluster;
let nats: TestNats;
const devApp = () => cluster.devKey.split(".")[0]!;

beforeAll(async () => {
  cluster = await startCluster({ services: ["auth", "publish-ingest", "history"], env: { SWITCHBOARD_RETENTION_MAX_AGE: "4s" } });
  nats = await openTestNats(cluster);
}, 120_000);

afterAll(async () => {
  await nats?.close();
  await cluster?.close();
});

/** Resolves when `check` holds, polling the service (the expiry is JetStream's own timer: there is no event). */
async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function setRetention(appId: string, retention: AppRecord["retention"]): Promise<void> {
  const kv = await nats.kv("sb_apps");
  const e = await kv.get(KvKeys.app(appId));
  const record = (e === null ? { id: appId, name: appId, createdAt: Date.now() } : JSON.parse(e.string())) as AppRecord;
  await kv.put(KvKeys.app(appId), JSON.stringify({ ...record, retention }));
}

describe("retention", () => {
  it("drops messages past the stream's max age, and the room is no longer active", async () => {
    const offsets = await publishMany(cluster, "ret:stream", 3);
    const page = await historyJson(cluster, "/v1/rooms/ret:stream/messages");
    expect(page.messages.map((m) => m.offset)).toEqual([...offsets].reverse());
    expect((await historyJson<{ rooms: Array<{ room: string }> }>(cluster, "/v1/rooms?prefix=ret:stream")).rooms).toEqual([
      { room: "ret:stream", messages: 3 },
    ]);
    const storedAt = Math.max(...page.messages.map((m) => m.timestamp));
    await until(async () => (await historyJson(cluster, "/v1/rooms/ret:stream/messages")).messages.length === 0, 20_000, "expiry");
    expect(Date.now() - storedAt).toBeGreaterThanOrEqual(STREAM_MAX_AGE_MS - 100);
    expect(await historyJson(cluster, "/v1/rooms?prefix=ret:stream")).toEqual({ rooms: [] });
  });

  it("hides messages older than the app's shorter max age, for that app only", async () => {
    const other = await createApp(cluster, "long-memory");
    await setRetention(devApp(), { maxAgeMs: 1500 });
    const old = await publishMany(cluster, "ret:age", 2, { concurrency: 1 });
    const theirsOld = await publishMany(cluster, "ret:age", 2, { concurrency: 1, key: other.key });
    const oldest = (await historyJson(cluster, "/v1/rooms/ret:age/messages")).messages;
    expect(oldest.map((m) => m.offset)).toEqual([...old].reverse());
    // Wait for the app's age to pass (well inside the stream's 4 s), then publish newer messages.
    const hideAt = Math.max(...oldest.map((m) => m.timestamp)) + 1500;
    await until(async () => Date.now() > hideAt + 50, 5000, "the app's max age");
    const fresh = await publishMany(cluster, "ret:age", 2, { concurrency: 1 });
    expect((await historyJson(cluster, "/v1/rooms/ret:age/messages")).messages.map((m) => m.offset)).toEqual([...fresh].reverse());
    expect((await historyJson(cluster, "/v1/rooms/ret:age/messages?direction=forwards")).messages.map((m) => m.offset)).toEqual(fresh);
    // The other app keeps the stream's age.
    expect((await historyJson(cluster, "/v1/rooms/ret:age/messages", other.key)).messages.map((m) => m.offset)).toEqual(
      [...theirsOld].reverse(),
    );
    await setRetention(devApp(), undefined);
  });

  it("keeps at most the app's message count per room, trimming the stream", async () => {
    const app = await createApp(cluster, "small-rooms");
    await setRetention(app.appId, { maxMessagesPerRoom: 5 });
    const offsets = await publishMany(cluster, "ret:count", 8, { concurrency: 1, key: app.key });
    const mine = await publishMany(cluster, "ret:count", 8, { concurrency: 1 });
    const page = await historyJson(cluster, "/v1/rooms/ret:count/messages", app.key);
    expect(page.messages.map((m) => m.offset)).toEqual(offsets.slice(3).reverse());
    const fwd = await historyJson(cluster, "/v1/rooms/ret:count/messages?direction=forwards&limit=2", app.key);
    expect(fwd.messages.map((m) => m.offset)).toEqual(offsets.slice(3, 5));
    const info = await nats.jsm.streams.info(STREAM_ROOMS, { subjects_filter: Subjects.room(app.appId, "ret:count") });
    expect(info.state.subjects?.[Subjects.room(app.appId, "ret:count")]).toBe(5);
    expect(await historyJson(cluster, "/v1/rooms?prefix=ret:count", app.key)).toEqual({ rooms: [{ room: "ret:count", messages: 5 }] });
    // The dev app's room of the same name keeps all 8.
    expect((await historyJson(cluster, "/v1/rooms/ret:count/messages")).messages.map((m) => m.offset)).toEqual([...mine].reverse());
  });
});
