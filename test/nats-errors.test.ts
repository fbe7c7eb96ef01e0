/**
 * libs/core natserrors.ts against a real nats-server: each failure Switchboard acts on is recognised by its nats.js
 * class or JetStream API code, and nothing else is mistaken for it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { startNatsServer, type NatsServerHandle } from "@switchboard/dev";
import { messageIdFromOffset } from "@switchboard/protocol";
import {
  JsApiCode,
  STREAM_ROOMS,
  Subjects,
  createLogger,
  deleteStoredMessage,
  ensureRoomsStream,
  isJsApiError,
  isNoResponders,
  isStreamNotFound,
  isTimeout,
  isWrongLastSequence,
  jsApiCode,
  sendControl,
} from "@switchboard/core";

let server: NatsServerHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;
let kv: KV;
const log = createLogger("test", "silent");

/** The error `p` rejects with (fails the test when it resolves). */
async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  jsm = await jetstreamManager(nc);
  kv = await new Kvm(jetstream(nc)).create("errors-test", { history: 1 });
});
afterAll(async () => {
  await nc.close();
  await server.dispose();
});

describe("NATS failures by class and code (nats-server 2.9.10)", () => {
  it("a request nobody subscribes to is no responders, from request and from requestMany", async () => {
    const single = await failure(nc.request("nobody.here", "x", { timeout: 2000 }));
    expect(isNoResponders(single)).toBe(true);
    expect(isTimeout(single)).toBe(false);
    const many = await failure(
      (async () => {
        const replies = [];
        for await (const m of await nc.requestMany("nobody.here", "x", { maxWait: 2000 })) replies.push(m);
        return replies;
      })(),
    );
    expect(isNoResponders(many)).toBe(true);
  });

  it("a request a subscriber never answers is a timeout, not no responders", async () => {
    const sub = nc.subscribe("silent.here");
    const err = await failure(nc.request("silent.here", "x", { timeout: 200 }));
    sub.unsubscribe();
    expect(isTimeout(err)).toBe(true);
    expect(isNoResponders(err)).toBe(false);
    expect(jsApiCode(err)).toBeUndefined();
  });

  it("a missing stream is StreamNotFound (10059)", async () => {
    const err = await failure(jsm.streams.info("NO_SUCH_STREAM"));
    expect(jsApiCode(err)).toBe(10059);
    expect(isStreamNotFound(err)).toBe(true);
    expect(isWrongLastSequence(err)).toBe(false);
  });

  it("a KV update at a stale revision and a create of an existing key are wrong last sequence (10071)", async () => {
    const first = await kv.put("k", "1");
    await kv.put("k", "2");
    const stale = await failure(kv.update("k", "3", first));
    expect(jsApiCode(stale)).toBe(10071);
    expect(isWrongLastSequence(stale)).toBe(true);
    const exists = await failure(kv.create("k", "x"));
    expect(isWrongLastSequence(exists)).toBe(true);
    expect(isStreamNotFound(exists)).toBe(false);
  });

  it("deleting a message already deleted is StreamMsgDeleteFailed (10057); deleteStoredMessage answers not_found", async () => {
    await ensureRoomsStream(jsm, { maxAgeMs: 60_000, maxMessagesPerRoom: 100, replicas: 1 }, log);
    const ack = await jetstream(nc).publish(Subjects.room("app1", "r"), "{}");
    await jsm.streams.deleteMessage(STREAM_ROOMS, ack.seq, false);
    const again = await failure(jsm.streams.deleteMessage(STREAM_ROOMS, ack.seq, false));
    expect(isJsApiError(again, JsApiCode.StreamMsgDeleteFailed)).toBe(true);
    const id = messageIdFromOffset(ack.seq);
    const refused = (await failure(deleteStoredMessage(jsm, "app1", "r", id))) as { code?: string };
    expect(refused.code).toBe("not_found");
  });

  it("the rooms stream is created with file storage, limits retention and discard old (the enums' values)", async () => {
    const info = await jsm.streams.info(STREAM_ROOMS);
    expect(info.config.storage).toBe("file");
    expect(info.config.retention).toBe("limits");
    expect(info.config.discard).toBe("old");
  });

  it("sendControl with no gateway running counts 0 instead of failing", async () => {
    expect(await sendControl(nc, "app1", { op: "session.close", sessionId: "s" }, log)).toBe(0);
  });
});
