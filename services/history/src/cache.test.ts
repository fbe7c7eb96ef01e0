/**
 * The read cache's freshness and eviction logic (cache.ts) without a server: its I/O (cachestore.ts) is a stub over
 * an in-memory stream whose consumers deliver only when the test pumps them, so every case is exact and no timing
 * is guessed but CATCHUP_WAIT_MS. The real-process tests in test/history-cache.test.ts cover it against JetStream.
 */
import { Registry, type Counter } from "prom-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Subjects, createLogger } from "@switchboard/core";
import { createCachedReader, type CachedReader } from "./cache.js";
import type { CacheStore, FeedMessage, RoomFeed } from "./cachestore.js";
import { decodeCursor } from "./cursor.js";
import { historyMetrics, type HistoryMetrics } from "./metrics.js";
import type { Page, ReadQuery } from "./pager.js";
import type { Reader } from "./reader.js";

const APP = "app1";
const subjectOf = (room: string) => Subjects.room(APP, room);

/** An in-memory rooms stream. */
class FakeStream implements CacheStore {
  lastSeq = 0;
  created = "stream-1";
  readonly messages = new Map<number, { subject: string; body: string }>();
  readonly feeds: FakeFeed[] = [];

  publish(room: string, n = 1): number[] {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      this.lastSeq++;
      this.messages.set(this.lastSeq, {
        subject: subjectOf(room),
        body: JSON.stringify({ event: "m", data: this.lastSeq, timestamp: 1000 + this.lastSeq }),
      });
      out.push(this.lastSeq);
    }
    return out;
  }
  remove(seq: number): void {
    this.messages.delete(seq);
  }
  seqsOf(subject: string): number[] {
    return [...this.messages.entries()].filter(([, m]) => m.subject === subject).map(([seq]) => seq);
  }
  feedOf(room: string): FakeFeed {
    const f = this.feeds.filter((x) => x.subject === subjectOf(room)).at(-1);
    if (f === undefined) throw new Error(`no feed for ${room}`);
    return f;
  }

  streamState = async () => ({ removals: this.lastSeq - this.messages.size, created: this.created });
  roomCount = async (subject: string) => this.seqsOf(subject).length;
  lastOffset = async (subject: string) => this.seqsOf(subject).at(-1) ?? 0;
  firstOffset = async (subject: string) => this.seqsOf(subject)[0];
  follow = async (subject: string): Promise<RoomFeed> => {
    const feed = new FakeFeed(this, subject);
    this.feeds.push(feed);
    return feed;
  };
}

/** A room's consumer: delivers what the stream holds above its position when pumped. */
class FakeFeed implements RoomFeed {
  readonly pendingAtStart: number;
  closed = false;
  upTo = 0;
  deliverySeq = 0;
  private queue: FeedMessage[] = [];
  private wake: (() => void) | undefined;
  private failure: (() => void) | undefined;

  constructor(
    private readonly stream: FakeStream,
    readonly subject: string,
  ) {
    this.pendingAtStart = stream.seqsOf(subject).length;
  }

  /** Delivers up to `n` messages the consumer has not delivered yet. */
  pump(n = Number.POSITIVE_INFINITY, opts: { skip?: boolean } = {}): void {
    const todo = this.stream.seqsOf(this.subject).filter((s) => s > this.upTo);
    for (const seq of todo.slice(0, n)) {
      this.deliverySeq += opts.skip === true ? 2 : 1;
      this.upTo = seq;
      const pending = todo.filter((s) => s > seq).length;
      this.queue.push({ seq, deliverySeq: this.deliverySeq, pending, body: this.stream.messages.get(seq)?.body ?? "" });
    }
    this.wake?.();
  }
  fail(): void {
    this.failure?.();
  }

  readonly messages: AsyncIterable<FeedMessage> = {
    [Symbol.asyncIterator]: () => ({
      next: async (): Promise<IteratorResult<FeedMessage>> => {
        for (;;) {
          if (this.closed) return { done: true, value: undefined };
          const m = this.queue.shift();
          if (m !== undefined) return { done: false, value: m };
          await new Promise<void>((resolve) => (this.wake = resolve));
        }
      },
    }),
  };
  onFailure(cb: () => void): void {
    this.failure = cb;
  }
  delivered = async () => this.upTo;
  close(): void {
    this.closed = true;
    this.wake?.();
  }
}

/** Lets the cache's pending promises (loads, deliveries) run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

let stream: FakeStream;
let metrics: HistoryMetrics;
let cache: CachedReader;
let baseReads: ReadQuery[];
const base: Reader = {
  read: async (q) => {
    baseReads.push(q);
    return { messages: [], next: "from-jetstream" };
  },
  lastOffset: async () => 0,
};

function open(maxBytes = 1 << 20): void {
  cache = createCachedReader(base, stream, async () => ({}), { maxBytes, log: createLogger("history", "silent"), metrics });
}

beforeEach(() => {
  stream = new FakeStream();
  metrics = historyMetrics(new Registry());
  baseReads = [];
  open();
});
afterEach(async () => {
  await cache.close();
});

const q = (room: string, over: Partial<ReadQuery> = {}): ReadQuery => ({ app: APP, room, limit: 2, direction: "backwards", ...over });
const offsets = (p: Page) => p.messages.map((m) => m.offset);

async function counts(counter: Counter): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await counter.get()).values) out[Object.values(v.labels).join(",")] = v.value;
  return out;
}

/** Reads `room` once (cold: the uncached reader answers and the room starts loading), then delivers all of it. */
async function load(room: string): Promise<void> {
  expect((await cache.read(q(room))).next).toBe("from-jetstream");
  await settle();
  stream.feedOf(room).pump();
  await settle();
}

describe("history read cache", () => {
  it("serves a loaded room from memory with the pager's exact page and cursor", async () => {
    stream.publish("a", 5);
    await load("a");
    const page = await cache.read(q("a"));
    expect(offsets(page)).toEqual([5, 4]);
    expect(decodeCursor(page.next ?? "")).toMatchObject({ direction: "backwards", before: 4, widthHint: 3, timeResolved: true });
    const fwd = await cache.read(q("a", { direction: "forwards", after: 1 }));
    expect(offsets(fwd)).toEqual([2, 3]);
    expect(decodeCursor(fwd.next ?? "")).toMatchObject({ direction: "forwards", after: 3, before: 6 });
    expect(baseReads.length).toBe(1);
    expect(await counts(metrics.cacheReads)).toEqual({ cold: 1, hit: 2 });
  });

  it("waits for its consumer to deliver up to the room's last offset, so a stored message is never missed", async () => {
    stream.publish("a", 3);
    await load("a");
    stream.publish("a");
    const reading = cache.read(q("a"));
    await settle();
    stream.feedOf("a").pump();
    expect(offsets(await reading)).toEqual([4, 3]);
    expect(await counts(metrics.cacheReads)).toEqual({ cold: 1, hit: 1 });
  });

  it("reads JetStream when its consumer falls behind, and drops the room after three such pages", async () => {
    stream.publish("a", 3);
    await load("a");
    stream.publish("a");
    for (let i = 0; i < 3; i++) expect((await cache.read(q("a"))).next).toBe("from-jetstream");
    expect(await counts(metrics.cacheReads)).toEqual({ cold: 1, behind: 3 });
    expect(await counts(metrics.cacheEvictions)).toEqual({ failed: 1 });
    expect(stream.feedOf("a").closed).toBe(true);
  });

  it("cuts messages removed at the room's old end and keeps serving from memory", async () => {
    stream.publish("a", 4);
    stream.publish("b", 1);
    await load("a");
    stream.remove(1);
    stream.remove(2);
    const page = await cache.read(q("a", { direction: "forwards", limit: 10 }));
    expect(offsets(page)).toEqual([3, 4]);
    expect(await counts(metrics.cacheReads)).toEqual({ cold: 1, revalidated: 1 });
    expect(offsets(await cache.read(q("a", { limit: 10 })))).toEqual([4, 3]);
    expect((await counts(metrics.cacheReads))["hit"]).toBe(1);
  });

  it("reads JetStream after a delete inside the room, and drops the room when it happens again", async () => {
    stream.publish("a", 5);
    await load("a");
    stream.remove(3);
    expect((await cache.read(q("a"))).next).toBe("from-jetstream");
    expect(await counts(metrics.cacheEvictions)).toEqual({});
    expect((await cache.read(q("a"))).next).toBe("from-jetstream");
    expect(await counts(metrics.cacheReads)).toEqual({ cold: 1, stale: 2 });
    expect(await counts(metrics.cacheEvictions)).toEqual({ stale: 1 });
    expect(stream.feedOf("a").closed).toBe(true);
  });

  it("drops every room when the stream is another one", async () => {
    stream.publish("a", 2);
    await load("a");
    stream.created = "stream-2";
    expect((await cache.read(q("a"))).next).toBe("from-jetstream");
    expect(await counts(metrics.cacheEvictions)).toEqual({ stale: 1 });
  });

  it("drops a room whose consumer skipped a delivery, or that the server reports gone", async () => {
    stream.publish("a", 2);
    stream.publish("b", 2);
    await load("a");
    await load("b");
    stream.publish("a");
    stream.feedOf("a").pump(1, { skip: true });
    stream.feedOf("b").fail();
    await settle();
    expect(await counts(metrics.cacheEvictions)).toEqual({ failed: 2 });
    expect((await metrics.cacheRooms.get()).values[0]?.value).toBe(0);
  });

  it("evicts the least recently read room to stay within its byte budget", async () => {
    // Each message is estimated at twice its body plus 200 bytes; the budget holds two rooms of 3 messages.
    stream.publish("a", 3);
    stream.publish("b", 3);
    stream.publish("c", 3);
    const perRoom = 3 * ((stream.messages.get(1)?.body.length ?? 0) * 2 + 200);
    await cache.close();
    open(perRoom * 2 + 10);
    await load("a");
    await load("b");
    await cache.read(q("a")); // a is now more recently read than b
    await load("c");
    expect(await counts(metrics.cacheEvictions)).toEqual({ budget: 1 });
    expect(stream.feedOf("b").closed).toBe(true);
    expect(stream.feedOf("a").closed).toBe(false);
    expect((await metrics.cacheBytes.get()).values[0]?.value).toBe(perRoom * 2);
    expect(offsets(await cache.read(q("a")))).toEqual([3, 2]);
  });

  it("is off with a budget of 0: every page is read from JetStream and nothing is followed", async () => {
    await cache.close();
    open(0);
    stream.publish("a", 2);
    await cache.read(q("a"));
    await settle();
    await cache.read(q("a"));
    expect(baseReads.length).toBe(2);
    expect(stream.feeds.length).toBe(0);
  });
});
