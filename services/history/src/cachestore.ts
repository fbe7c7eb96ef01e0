/**
 * The read cache's I/O (cache.ts), behind a small interface so that its freshness and eviction logic is tested with
 * a stub (cache.test.ts) and runs against JetStream here: the rooms stream's removal count, a room's count, first
 * and last offsets, and one long-lived ephemeral consumer per cached room that delivers the room from its first
 * message and keeps it current.
 */
import type { ConsumerMessages, JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { STREAM_ROOMS, addEphemeralConsumer, deleteEphemeralConsumer, lastOffsetOf } from "@switchboard/core";

export interface StreamState {
  /** `last_seq − messages`: every removal of any kind raises it by one, and nothing lowers it. */
  removals: number;
  /** When the stream was created: another value is another stream. */
  created: string;
}

export interface FeedMessage {
  /** The stream offset. */
  seq: number;
  /** The consumer's delivery count: grows by exactly one per message (ack none, no redelivery). */
  deliverySeq: number;
  /** Messages of the room left to deliver after this one. */
  pending: number;
  body: string;
}

/** A room's consumer: delivers the room from its first message, then every new one. */
export interface RoomFeed {
  /** Messages the room held when the consumer was created. */
  pendingAtStart: number;
  /** Ends when the feed is closed or the connection closes. */
  messages: AsyncIterable<FeedMessage>;
  /** Calls `cb` once when the server reports the consumer gone or its heartbeats missed. */
  onFailure(cb: () => void): void;
  /** The highest stream offset the server says the consumer delivered. */
  delivered(): Promise<number>;
  /** Stops delivery and deletes the consumer (not awaited). */
  close(): void;
}

export interface CacheStore {
  streamState(): Promise<StreamState>;
  /** Messages the stream holds for `subject` now. */
  roomCount(subject: string): Promise<number>;
  /** The room's last offset (0 when it has none). */
  lastOffset(subject: string): Promise<number>;
  /** The room's first offset (undefined when it has none). */
  firstOffset(subject: string): Promise<number | undefined>;
  follow(subject: string, inactiveMs: number): Promise<RoomFeed>;
}

const FAILURES = new Set(["heartbeats_missed", "consumer_deleted", "consumer_not_found", "stream_not_found"]);
const decoder = new TextDecoder();

export function jetStreamCacheStore(js: JetStreamClient, jsm: JetStreamManager): CacheStore {
  async function follow(subject: string, inactiveMs: number): Promise<RoomFeed> {
    const ci = await addEphemeralConsumer(jsm, STREAM_ROOMS, subject, "all", inactiveMs);
    let iter: ConsumerMessages;
    try {
      iter = await js.consumers.getConsumerFromInfo(ci).consume({ max_messages: 1000, expires: 10_000 });
    } catch (err) {
      void deleteEphemeralConsumer(jsm, STREAM_ROOMS, ci.name);
      throw err;
    }
    return {
      pendingAtStart: ci.num_pending,
      messages: (async function* () {
        for await (const m of iter)
          yield { seq: m.seq, deliverySeq: m.info.deliverySequence, pending: m.info.pending, body: decoder.decode(m.data) };
      })(),
      onFailure: (cb) => {
        void (async () => {
          for await (const s of iter.status())
            if (FAILURES.has(s.type)) {
              cb();
              break;
            }
        })().catch(() => undefined); // the status stream ends with the iterator; nothing to report then
      },
      delivered: async () => (await jsm.consumers.info(STREAM_ROOMS, ci.name)).delivered.stream_seq,
      close: () => {
        void iter.close().catch(() => undefined); // closing an already closed iterator
        void deleteEphemeralConsumer(jsm, STREAM_ROOMS, ci.name);
      },
    };
  }

  return {
    streamState: async () => {
      const info = await jsm.streams.info(STREAM_ROOMS);
      return { removals: info.state.last_seq - info.state.messages, created: info.created };
    },
    roomCount: async (subject) => (await jsm.streams.info(STREAM_ROOMS, { subjects_filter: subject })).state.subjects?.[subject] ?? 0,
    lastOffset: (subject) => lastOffsetOf(jsm, subject),
    firstOffset: async (subject) => (await jsm.direct.getMessage(STREAM_ROOMS, { seq: 1, next_by_subj: subject }))?.seq,
    follow,
  };
}
