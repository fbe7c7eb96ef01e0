/**
 * libs/core lastoffsets.ts against a real nats-server: the same answers as lastOffsetOf (offsets.ts) for a room with
 * messages, a room with none, a room whose newest message was deleted (nats-server 2.9 answers `last_by_subj` with
 * 404 then), and many rooms asked at once through the one reply subscription; a missing stream rejects.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { startNatsServer, type NatsServerHandle } from "@switchboard/dev";
import { STREAM_ROOMS, Subjects, createLastOffsets, createLogger, ensureRoomsStream, lastOffsetOf } from "@switchboard/core";

let server: NatsServerHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  jsm = await jetstreamManager(nc);
  await ensureRoomsStream(jsm, { maxAgeMs: 3_600_000, maxMessagesPerRoom: 1000, replicas: 1 }, createLogger("test", "silent"));
});
afterAll(async () => {
  await nc.close();
  await server.dispose();
});

describe("createLastOffsets", () => {
  it("answers what lastOffsetOf answers: newest offset, 0 for an empty room, the survivor after the newest is deleted", async () => {
    const js = jetstream(nc);
    const a = Subjects.room("app", "a");
    const b = Subjects.room("app", "b");
    const seqs: number[] = [];
    for (const s of [a, b, a, b, a]) seqs.push((await js.publish(s, "{}")).seq);
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    const offsets = createLastOffsets(nc, jsm, { stream: STREAM_ROOMS, timeoutMs: 5000 });
    try {
      expect(await offsets.of(a)).toBe(5);
      expect(await offsets.of(b)).toBe(4);
      expect(await offsets.of(Subjects.room("app", "empty"))).toBe(0);
      await jsm.streams.deleteMessage(STREAM_ROOMS, 5);
      expect(await lastOffsetOf(jsm, a)).toBe(3);
      expect(await offsets.of(a)).toBe(3);
      const many = await Promise.all(Array.from({ length: 500 }, (_, i) => offsets.of(i % 2 === 0 ? b : Subjects.room("app", `none${i}`))));
      expect(many.filter((x) => x === 4)).toHaveLength(250);
      expect(many.filter((x) => x === 0)).toHaveLength(250);
    } finally {
      offsets.close();
    }
  });

  it("rejects when the stream does not exist", async () => {
    const offsets = createLastOffsets(nc, jsm, { stream: "NO_SUCH_STREAM", timeoutMs: 1000 });
    try {
      await expect(offsets.of(Subjects.room("app", "a"))).rejects.toThrow(/NO_SUCH_STREAM/);
    } finally {
      offsets.close();
    }
  });
});
