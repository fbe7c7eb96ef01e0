/**
 * No false acks (docs/HTTP-API.md): while clients publish continuously, nats-server is killed (SIGKILL) and restarted.
 * Every 2xx answer must name a message that is in the stream afterwards, with that exact content; everything else
 * is a 503 with Retry-After. Then the batch endpoint during an outage.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { messageIdFromOffset } from "@switchboard/protocol";
import { Subjects } from "@switchboard/core";
import { waitReady } from "@switchboard/dev";
import { startCluster, type Cluster } from "./helpers/cluster.js";
import { ingest, openStreamReader } from "./helpers/ingest.js";

const APP = "app1";
const WORKERS = 8;
let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ services: ["auth", "publish-ingest"] });
});

afterAll(async () => {
  await cluster?.close();
});

interface Outcome {
  worker: number;
  seq: number;
  status: number;
  retryAfter: string | null;
  body: Record<string, unknown>;
}

/** Resolves once `pred` holds, checking on every outcome (no sleeping). */
function waiter(outcomes: Outcome[]) {
  const pending: Array<{ pred: () => boolean; resolve: () => void }> = [];
  return {
    record(o: Outcome) {
      outcomes.push(o);
      for (const p of [...pending]) {
        if (!p.pred()) continue;
        pending.splice(pending.indexOf(p), 1);
        p.resolve();
      }
    },
    until(pred: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
      if (pred()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
        pending.push({
          pred,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}

describe("nats-server killed mid-stream", () => {
  it("never answers 2xx for a message that is not in the stream afterwards", { timeout: 180_000 }, async () => {
    const outcomes: Outcome[] = [];
    const w = waiter(outcomes);
    let running = true;
    const ok = () => outcomes.filter((o) => o.status === 201).length;
    const failed = () => outcomes.filter((o) => o.status !== 201).length;

    const worker = async (n: number) => {
      for (let seq = 0; running; seq++) {
        let o: Outcome;
        try {
          const res = await ingest(cluster, "POST", `/v1/rooms/outage:w${n}/messages`, { event: "tick", data: { n, seq } });
          o = { worker: n, seq, status: res.status, retryAfter: res.headers.get("retry-after"), body: res.body };
        } catch (err) {
          o = { worker: n, seq, status: 0, retryAfter: null, body: { error: String(err) } };
        }
        w.record(o);
      }
    };
    const workers = Array.from({ length: WORKERS }, (_, n) => worker(n));

    await w.until(() => ok() >= 300, "300 acks before the kill");
    await cluster.nats.kill();
    const failedAtKill = failed();
    await w.until(() => failed() >= failedAtKill + 20, "20 refusals while nats-server is down");
    const okBeforeRestart = ok();
    await cluster.nats.start();
    await w.until(() => ok() >= okBeforeRestart + 300, "300 acks after the restart");
    running = false;
    await Promise.all(workers);

    // Every answer is a 201 or a 503 with Retry-After: no other status, no dropped connection.
    for (const o of outcomes) {
      if (o.status === 201) continue;
      expect(o.status, JSON.stringify(o)).toBe(503);
      expect(o.retryAfter).toBe("1");
      expect((o.body["error"] as { code: string }).code).toBe("unavailable");
    }

    const svc = cluster.services.get("publish-ingest");
    if (svc !== undefined) await waitReady(svc);
    const stream = await openStreamReader(cluster);
    try {
      const acked = outcomes.filter((o) => o.status === 201);
      const offsets = new Set<number>();
      for (const o of acked) {
        const { id, offset } = o.body as { id: string; offset: number };
        expect(id).toBe(messageIdFromOffset(offset));
        expect(offsets.has(offset), `offset ${offset} acked twice`).toBe(false);
        offsets.add(offset);
        const stored = await stream.at(offset);
        expect(stored, `acked message ${JSON.stringify(o)} is missing from the stream`).not.toBeNull();
        expect(stored?.subject).toBe(Subjects.room(APP, `outage:w${o.worker}`));
        expect(stored?.body["data"]).toEqual({ n: o.worker, seq: o.seq });
      }
      // Messages refused with 503 may still have been stored (an ack lost with the server), never the reverse.
      let storedCount = 0;
      for (let n = 0; n < WORKERS; n++) storedCount += await stream.count(Subjects.room(APP, `outage:w${n}`));
      expect(storedCount).toBeGreaterThanOrEqual(acked.length);
      expect(acked.length).toBeGreaterThanOrEqual(600);
      expect(outcomes.length - acked.length).toBeGreaterThanOrEqual(20);
    } finally {
      await stream.close();
    }
  });

  it("answers a batch with 503 and Retry-After while nats-server is down, and 201 after", { timeout: 60_000 }, async () => {
    const batch = {
      messages: [
        { room: "outage:batch", event: "x", data: 1 },
        { room: "bad room", event: "x" },
      ],
    };
    await cluster.nats.kill();
    try {
      const res = await ingest(cluster, "POST", "/v1/messages", batch);
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("1");
      expect((res.body["error"] as { code: string }).code).toBe("unavailable");
      const single = await ingest(
        cluster,
        "POST",
        "/api/v1/pub_subs",
        { scope: { type: "organization" }, payload: { event: { eventName: "x" } } },
        { auth: cluster.devKey },
      );
      expect(single.status).toBe(503);
    } finally {
      await cluster.nats.start();
    }
    const svc = cluster.services.get("publish-ingest");
    if (svc !== undefined) await waitReady(svc);
    const res = await ingest(cluster, "POST", "/v1/messages", batch);
    expect(res.status).toBe(201);
    const results = res.body["results"] as Array<Record<string, unknown>>;
    expect(results[0]).toHaveProperty("offset");
    expect(results[1]).toMatchObject({ error: { code: "invalid_room" } });
  });
});
