/**
 * Each service killed mid-request (docs/GUARANTEES.md): SIGKILL, no drain.
 * - publish-ingest, while 8 clients publish: every 201 names a message the stream holds with that exact data, every
 *   other outcome is an error the client sees (a reset connection), no message is stored twice, and a second ingest
 *   process keeps taking publishes.
 * - history, while sockets resume rooms through it: with a second history process in the queue group, every resume
 *   completes with each missed offset once, in order.
 * - auth: token issuance fails with a refused connection (nothing half-issued), open sockets keep working, and a new
 *   auth process issues again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Subjects } from "@switchboard/core";
import { issueToken, publishHttp, startCluster, type Cluster } from "./helpers/cluster.js";
import { connectTo, offsetsOf } from "./helpers/gateway.js";
import { openStreamReader, type StreamReader } from "./helpers/ingest.js";

let cluster: Cluster;
let stream: StreamReader;

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.add("publish-ingest", "ingest-2");
  await cluster.add("history", "history-2");
  stream = await openStreamReader(cluster);
}, 180_000);

afterAll(async () => {
  await stream?.close();
  await cluster?.close();
});

describe("a service killed mid-request", () => {
  it("publish-ingest: every 201 is stored with its data, once; the rest are errors; the other ingest keeps going", async () => {
    const room = "kill:ingest";
    const first = cluster.services.get("publish-ingest")!;
    const acked: Array<{ data: string; offset: number }> = [];
    let failed = 0;
    let sent = 0;
    let killed = false;
    // Each worker publishes until a request fails after the kill: some are in flight when it dies, and every
    // worker sees the dead process at least once.
    const worker = async (w: number) => {
      for (let i = 0; ; i++) {
        const data = `w${w}-${i}`;
        sent++;
        try {
          const res = await fetch(`${first.url}/v1/rooms/${room}/messages`, {
            method: "POST",
            headers: { authorization: `Bearer ${cluster.devKey}`, "content-type": "application/json" },
            body: JSON.stringify({ event: "e", data }),
          });
          if (res.status === 201) acked.push({ data, offset: ((await res.json()) as { offset: number }).offset });
          else failed++;
        } catch {
          failed++;
          if (killed) return;
        }
      }
    };
    const workers = Array.from({ length: 8 }, (_, w) => worker(w));
    // Kill once some publishes went through, while the others are in flight.
    while (acked.length < 40) await new Promise((r) => setImmediate(r));
    killed = true;
    await first.kill();
    // The later tests publish through the other ingest process.
    cluster.services.set("publish-ingest", cluster.services.get("ingest-2")!);
    await Promise.all(workers);
    expect(failed).toBeGreaterThanOrEqual(8);
    expect(acked.length + failed).toBe(sent);

    // Every 201 is in the stream with its data; nothing is stored twice.
    for (const a of acked) {
      const m = await stream.at(a.offset);
      expect([a.offset, m?.subject, m?.body["data"]]).toEqual([a.offset, Subjects.room("app1", room), a.data]);
    }
    const stored = await stream.count(Subjects.room("app1", room));
    expect(stored).toBeGreaterThanOrEqual(acked.length);
    expect(stored).toBeLessThanOrEqual(sent);
    const seen = new Set<string>();
    for (let seq = 1, found = 0; found < stored; seq++) {
      const m = await stream.at(seq);
      if (m?.subject !== Subjects.room("app1", room)) continue;
      found++;
      const data = m.body["data"] as string;
      expect(seen.has(data), `${data} stored twice`).toBe(false);
      seen.add(data);
    }

    // The other ingest process takes publishes.
    expect((await publishHttp(cluster, room, { event: "e", data: "after" })).status).toBe(201);
  }, 90_000);

  it("history: resumes read through the surviving history process, each missed offset once, in order", async () => {
    const rooms = ["kill:h1", "kill:h2", "kill:h3", "kill:h4"];
    const offsets = new Map<string, number[]>();
    for (const room of rooms) {
      const got: number[] = [];
      for (let i = 0; i < 30; i++) {
        const res = await publishHttp(cluster, room, { event: "e", data: i });
        expect(res.status).toBe(201);
        got.push(((await res.json()) as { offset: number }).offset);
      }
      offsets.set(room, got);
    }
    const token = await issueToken(cluster, { clientId: "resumer" });
    // Resume every room from its first offset while the first history process is killed.
    const sockets = await Promise.all(rooms.map(() => connectTo(cluster, token)));
    const resumes = rooms.map((room, i) => sockets[i]!.request("subscribe", { room, since: { offset: offsets.get(room)![0]! } }, 60_000));
    await cluster.services.get("history")!.kill();
    const replies = await Promise.all(resumes);
    for (const [i, room] of rooms.entries()) {
      expect(replies[i]).toMatchObject({ ok: true });
      const expected = offsets.get(room)!.slice(1);
      await sockets[i]!.waitFor(() => offsetsOf(sockets[i]!, room).length >= expected.length, 30_000, `replay of ${room}`);
      expect(offsetsOf(sockets[i]!, room)).toEqual(expected);
    }
    for (const s of sockets) s.close();
  }, 120_000);

  it("auth: issuance fails cleanly while it is down, open sockets keep working, a new auth issues again", async () => {
    const room = "kill:auth";
    const sock = await connectTo(cluster, await issueToken(cluster, { clientId: "stays" }));
    expect(await sock.request("subscribe", { room })).toMatchObject({ ok: true });
    const auth = cluster.services.get("auth")!;
    await auth.kill();
    await expect(fetch(`${auth.url}/v1/tokens`, { method: "POST" })).rejects.toThrow();
    expect(await sock.request("ping")).toMatchObject({ ok: true });
    const res = await publishHttp(cluster, room, { event: "e", data: "while auth is down" });
    expect(res.status).toBe(201);
    await sock.waitFor((f) => f.type === "message" && f["data"] === "while auth is down");
    await cluster.add("auth", "auth");
    expect((await issueToken(cluster, { clientId: "again" })).split(".")).toHaveLength(3);
    sock.close();
  }, 90_000);
});
