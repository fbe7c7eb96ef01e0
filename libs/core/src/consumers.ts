/**
 * Ephemeral JetStream consumers: the one way Switchboard reads part of a stream without a durable consumer (history's
 * page reader and read cache, presence reads). Each is filtered on one subject (a single `filter_subject`, so it works
 * on nats-server 2.9 and 2.11+), acknowledges nothing (no redelivery: the delivery sequence grows by one per message),
 * lives in memory on one replica, and is removed by the server once idle for `inactiveMs` — so a consumer its reader
 * could not delete (a lost connection, a crash) goes away by itself.
 */
import { AckPolicy, DeliverPolicy, type ConsumerConfig, type ConsumerInfo, type JetStreamManager } from "@nats-io/jetstream";

/** Where an ephemeral consumer starts delivering. */
export type ConsumerStart =
  | { seq: number }
  /** Epoch ms: the first message stored at or after it (negative is clamped to 0). */
  | { time: number }
  | "all"
  /** The newest message of each subject the filter matches (a KV bucket's current values). */
  | "last_per_subject";

/** How long an ephemeral consumer may sit idle before the server removes it, unless said otherwise. */
export const EPHEMERAL_INACTIVE_MS = 5000;

function startConfig(start: ConsumerStart): Partial<ConsumerConfig> {
  if (start === "all") return { deliver_policy: DeliverPolicy.All };
  if (start === "last_per_subject") return { deliver_policy: DeliverPolicy.LastPerSubject };
  if ("seq" in start) return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start.seq };
  return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(Math.max(0, start.time)).toISOString() };
}

/** Creates an ephemeral consumer on `stream` filtered on `filterSubject`; its info carries the name and `num_pending`. */
export function addEphemeralConsumer(
  jsm: JetStreamManager,
  stream: string,
  filterSubject: string,
  start: ConsumerStart,
  inactiveMs = EPHEMERAL_INACTIVE_MS,
): Promise<ConsumerInfo> {
  return jsm.consumers.add(stream, {
    filter_subject: filterSubject,
    ...startConfig(start),
    ack_policy: AckPolicy.None,
    mem_storage: true,
    num_replicas: 1,
    inactive_threshold: inactiveMs * 1_000_000,
  });
}

/**
 * Deletes an ephemeral consumer; never rejects. A failed delete is not an error worth reporting: the server removes
 * the consumer once it has been idle for its inactive threshold, which is what a successful delete would have done
 * sooner.
 */
export async function deleteEphemeralConsumer(jsm: JetStreamManager, stream: string, name: string): Promise<void> {
  try {
    await jsm.consumers.delete(stream, name);
  } catch {
    // see above: the inactive threshold removes it
  }
}
