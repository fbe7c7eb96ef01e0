/**
 * JetStream out of storage (docs/GUARANTEES.md): nats-server runs with a 2 MiB file store; 60 KiB messages are
 * published until it is full. From then on ingest answers 503 `unavailable` with Retry-After and a message that says
 * storage is full, never a 2xx, and every 201 it gave is in the stream. nats-server 2.9 neither frees the store's
 * accounting on a purge nor reloads storage limits (both tried here), so recovery is the operator's: the node restarts
 * with more storage, ingest reconnects by itself, and publishing succeeds again with nothing lost.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Subjects } from "@switchboard/core";
import { publishHttp, startCluster, type Cluster } from "./helpers/cluster.js";
import { openStreamReader, type StreamReader } from "./helpers/ingest.js";

let cluster: Cluster;
let stream: StreamReader;
let config: string;
const ROOM = "full:room";

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "sb-full-"));
  config = join(dir, "nats.conf");
  writeFileSync(config, "jetstream {\n  max_file_store: 2MB\n}\n");
  cluster = await startCluster({ services: ["auth", "publish-ingest"], nats: { config } });
  stream = await openStreamReader(cluster);
}, 120_000);

afterAll(async () => {
  await stream?.close();
  await cluster?.close();
});

describe("JetStream out of storage", () => {
  it("answers 503 with Retry-After and says why, never a 2xx, and recovers once the node has more storage", async () => {
    const data = "x".repeat(60 * 1024);
    const acked: number[] = [];
    let refused: Response | undefined;
    for (let i = 0; i < 200 && refused === undefined; i++) {
      const res = await publishHttp(cluster, ROOM, { event: "e", data });
      if (res.status === 201) acked.push(((await res.json()) as { offset: number }).offset);
      else refused = res;
    }
    expect(acked.length).toBeGreaterThan(5);
    expect(refused?.status).toBe(503);
    expect(refused?.headers.get("retry-after")).toBe("1");
    expect(await refused?.json()).toEqual({
      error: { code: "unavailable", message: "JetStream is out of storage: the message was not stored; retry later" },
    });
    // Still full: every further publish is refused the same way, none is acknowledged.
    for (let i = 0; i < 5; i++) expect((await publishHttp(cluster, ROOM, { event: "e", data })).status).toBe(503);
    for (const offset of acked) expect((await stream.at(offset))?.subject).toBe(Subjects.room("app1", ROOM));

    // The operator gives the node more storage and restarts it; ingest reconnects on its own.
    writeFileSync(config, "jetstream {\n  max_file_store: 64MB\n}\n");
    await stream.close();
    await cluster.nats.stop();
    await cluster.nats.start();
    let after = await publishHttp(cluster, ROOM, { event: "e", data: "after" });
    for (const deadline = Date.now() + 30_000; after.status === 503 && Date.now() < deadline;)
      after = await publishHttp(cluster, ROOM, { event: "e", data: "after" });
    expect(after.status).toBe(201);
    stream = await openStreamReader(cluster);
    for (const offset of acked) expect((await stream.at(offset))?.subject).toBe(Subjects.room("app1", ROOM));
    const { offset } = (await after.json()) as { offset: number };
    expect((await stream.at(offset))?.body["data"]).toBe("after");
  }, 90_000);
});
