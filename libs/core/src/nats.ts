/**
 * NATS connection and the JetStream layout (docs/ARCHITECTURE.md): the rooms stream with republish and the KV buckets, created
 * idempotently at boot by every service that uses them, so services can start in any order.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  jetstreamManager,
  jetstream,
  type JetStreamManager,
  type StreamConfig,
  type JetStreamClient,
} from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { nanos } from "@nats-io/nats-core";
import type { Logger } from "./logger.js";
import { isStreamNotFound } from "./natserrors.js";
import { Buckets, STREAM_ROOMS, Subjects, type BucketName } from "./subjects.js";

export type { NatsConnection } from "@nats-io/transport-node";

export const DUPLICATE_WINDOW_MS = 120_000;
/** Largest stored message: 64 KiB of data plus the stamped envelope. */
export const MAX_STORED_MESSAGE_BYTES = 96 * 1024;
export const PRESENCE_TTL_MS = 10_000;
export const REVOCATION_TTL_MS = 31 * 86_400_000;

export interface ConnectOptions {
  servers: string[];
  user?: string | undefined;
  pass?: string | undefined;
  name: string;
  log: Logger;
}

/** Connects, retrying forever (the process stays up and not-ready meanwhile); logs every status change once. */
export async function connectNats(opts: ConnectOptions, signal: AbortSignal): Promise<NatsConnection> {
  let attempt = 0;
  for (;;) {
    if (signal.aborted) throw new Error("aborted before NATS connected");
    try {
      const nc = await connect({
        servers: opts.servers,
        ...(opts.user !== undefined ? { user: opts.user, pass: opts.pass ?? "" } : {}),
        name: opts.name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        reconnectJitter: 250,
        pingInterval: 10_000,
        timeout: 2000,
      });
      opts.log.info({ server: nc.getServer() }, "connected to NATS");
      void (async () => {
        for await (const s of nc.status()) {
          if (s.type === "disconnect" || s.type === "reconnect" || s.type === "error")
            opts.log.warn({ status: s.type, server: "server" in s ? s.server : undefined }, "NATS connection status");
        }
      })();
      return nc;
    } catch (err) {
      attempt++;
      if (attempt === 1 || attempt % 20 === 0)
        opts.log.warn({ err: (err as Error).message, servers: opts.servers, attempt }, "cannot reach NATS yet; retrying");
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * attempt)));
    }
  }
}

export interface RetentionOptions {
  maxAgeMs: number;
  maxMessagesPerRoom: number;
  replicas: number;
}

export function roomsStreamConfig(r: RetentionOptions): Partial<StreamConfig> & { name: string } {
  return {
    name: STREAM_ROOMS,
    subjects: [Subjects.roomsAll],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: nanos(r.maxAgeMs),
    max_msgs_per_subject: r.maxMessagesPerRoom,
    max_msg_size: MAX_STORED_MESSAGE_BYTES,
    // JetStream refuses a duplicate window longer than max age (possible with a short SWITCHBOARD_RETENTION_MAX_AGE).
    duplicate_window: nanos(Math.min(DUPLICATE_WINDOW_MS, r.maxAgeMs)),
    num_replicas: r.replicas,
    allow_direct: true,
    republish: { src: Subjects.roomsAll, dest: Subjects.liveAll },
  };
}

/** Creates the rooms stream, or brings its managed settings in line when it exists. */
export async function ensureRoomsStream(jsm: JetStreamManager, r: RetentionOptions, log: Logger): Promise<void> {
  const want = roomsStreamConfig(r);
  let info;
  try {
    info = await jsm.streams.info(STREAM_ROOMS);
  } catch (err) {
    if (!isStreamNotFound(err)) throw err;
    await jsm.streams.add(want);
    log.info({ stream: STREAM_ROOMS }, "created stream");
    return;
  }
  const have = info.config;
  const drift =
    have.max_age !== want.max_age ||
    have.max_msgs_per_subject !== want.max_msgs_per_subject ||
    have.duplicate_window !== want.duplicate_window ||
    !have.allow_direct ||
    have.republish?.src !== want.republish?.src ||
    have.republish?.dest !== want.republish?.dest;
  if (drift) {
    await jsm.streams.update(STREAM_ROOMS, { ...have, ...want });
    log.info({ stream: STREAM_ROOMS }, "updated stream settings");
  }
}

const BUCKET_TTL_MS: Partial<Record<BucketName, number>> = {
  [Buckets.presence]: PRESENCE_TTL_MS,
  [Buckets.revocations]: REVOCATION_TTL_MS,
};

/** Opens (creating if needed) the named buckets. */
export async function openBuckets<const B extends readonly BucketName[]>(
  js: JetStreamClient,
  names: B,
  replicas: number,
): Promise<Record<B[number], KV>> {
  const kvm = new Kvm(js);
  const out: Partial<Record<BucketName, KV>> = {};
  for (const name of names) {
    const ttl = BUCKET_TTL_MS[name];
    out[name] = await kvm.create(name, { replicas, history: 1, ...(ttl !== undefined ? { ttl } : {}) });
  }
  return out as Record<B[number], KV>;
}

export { jetstream, jetstreamManager };
export type { JetStreamClient, JetStreamManager, KV };
