/**
 * A bounded in-memory read cache of hot rooms in front of the JetStream reader (reader.ts), so a page of a busy
 * room costs two small JetStream requests instead of a filtered consumer (docs/PERFORMANCE.md, History).
 *
 * - Loading: the first read of a room (served by the uncached reader) starts loading it in the background: the
 *   stream's removal count is read first (`last_seq − messages`: every removal of any kind — delete, per-room
 *   limit, max age, purge — raises it by one, and nothing lowers it), then one long-lived ephemeral pull consumer
 *   filtered on the room, delivering from the room's first message, fills the cache and keeps it current
 *   (`consume()`). Its delivery sequence must grow by exactly one per message (ack none, no redelivery), so a
 *   message lost in transit is seen and the room dropped. Pages are served from memory once it has caught up.
 * - Serving a page: (1) the room's last offset L (direct get `last_by_subj`), then (2) the stream's removal count.
 *   Equal to the count the cache is valid for: nothing was removed anywhere since, so every cached message still
 *   exists, and every message stored at (1) — which includes every publish acknowledged before the request — has
 *   an offset ≤ L. (3) Once the consumer has delivered up to L (a short wait, else the uncached read), the page is
 *   cut from memory with the reader's exact bounds, filters and cursors.
 * - A different removal count: `revalidate` checks that the room lost only messages at its old end (max age, the
 *   per-room limit, a trim), cuts them and serves from memory; a moderation delete (a cached message the stream no
 *   longer holds) drops the room, read from JetStream and loaded again, at most once per REBUILD_MIN_MS. Another
 *   stream (`created`) drops it too.
 * - Per-app retention: older than the app's max age is filtered on `timestamp` as in the reader; a room holding
 *   more than the app's count is read (and trimmed) by the uncached reader, which the next check then cuts.
 * - Bounds: at most `maxBytes` (estimated) and MAX_ROOMS rooms, least recently read dropped first, with their
 *   consumers. `maxBytes` 0 turns the cache off.
 * - Each message's JSON is made once, when it is cached: a page's answer is built by concatenation (pagejson.ts).
 */
/* eslint-disable @typescript-eslint/no-non-null-assertion -- the room's seqs, msgs, json and sizes are parallel arrays of one length, indexed within it on the page path; a checked access there would cost a branch per row for a case that cannot happen. */
import type { StoredMessage } from "@switchboard/protocol";
import { STREAM_ROOMS, Subjects, storedMessage, type Logger } from "@switchboard/core";
import type { CacheStore, RoomFeed } from "./cachestore.js";
import type { HistoryMetrics } from "./metrics.js";
import { withMessagesJson } from "./pagejson.js";
import { checkLimit, cutPage, emptyPage, planPage, timeWindow, type AppRetention, type Page, type ReadQuery } from "./pager.js";
import type { Reader } from "./reader.js";

/** Most rooms cached at once (each holds one consumer on the server). */
export const MAX_ROOMS = 1000;
/** A room is loaded again at most this often after it was dropped (bounds the load under removal churn). */
export const REBUILD_MIN_MS = 1000;
/** How long a page waits for the room's consumer to deliver up to the room's last offset before reading JetStream. */
export const CATCHUP_WAIT_MS = 50;
/** Estimated memory of one cached message beyond its body (objects, ids, arrays). */
const MESSAGE_OVERHEAD_BYTES = 200;
const CONSUMER_INACTIVE_MS = 30_000;

type Metrics = HistoryMetrics;

interface Room {
  subject: string;
  room: string;
  /** Ascending offsets and their messages, as delivered. */
  seqs: number[];
  msgs: StoredMessage[];
  /** JSON.stringify of each message in `msgs`. */
  json: string[];
  /** Estimated bytes of each message. */
  sizes: number[];
  bytes: number;
  /** Consecutive checks that found more cached messages than the room holds (see revalidate). */
  surplus: number;
  /** Consecutive pages for which the consumer did not catch up in time. */
  behind: number;
  /** The consumer delivered everything the room held when it was created (or a page found it caught up): pages
   * wait for it to catch up (CATCHUP_WAIT_MS) instead of reading JetStream at once. */
  loaded: boolean;
  /** Highest offset delivered (0: none yet). */
  upTo: number;
  /** Stream removal count and creation time read before the consumer was created. */
  removals: number;
  streamCreated: string;
  /** The room's consumer, once it delivers. */
  feed?: RoomFeed;
  deliverySeq: number;
  waiters: Array<{ seq: number; done: (ok: boolean) => void }>;
  dead: boolean;
}

export interface CachedReaderOptions {
  maxBytes: number;
  log: Logger;
  metrics: Metrics;
}

export interface CachedReader extends Reader {
  close(): Promise<void>;
}

/** Reads `dead` through a call: an await may have dropped the room since an earlier check narrowed it to false. */
function isDead(r: { dead: boolean }): boolean {
  return r.dead;
}

/** The first index of `seqs` (ascending) whose value is ≥ `seq`. */
function lowerBound(seqs: number[], seq: number): number {
  let lo = 0;
  let hi = seqs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (seqs[mid]! < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function createCachedReader(
  base: Reader,
  store: CacheStore,
  retentionOf: (app: string) => Promise<AppRetention>,
  opts: CachedReaderOptions,
): CachedReader {
  const { metrics, log } = opts;
  /** LRU: Map order is least recently read first. */
  const rooms = new Map<string, Room>();
  /** When each room was last loaded (bounded like `rooms`). */
  const builtAt = new Map<string, number>();
  let totalBytes = 0;
  let closed = false;

  const gauges = () => {
    metrics.cacheRooms.set(rooms.size);
    metrics.cacheBytes.set(totalBytes);
  };

  function drop(r: Room, reason: "budget" | "rooms" | "stale" | "failed"): void {
    if (r.dead) return;
    r.dead = true;
    if (rooms.get(r.subject) === r) rooms.delete(r.subject);
    totalBytes -= r.bytes;
    r.seqs = [];
    r.msgs = [];
    r.json = [];
    r.sizes = [];
    for (const w of r.waiters.splice(0)) w.done(false);
    r.feed?.close();
    metrics.cacheEvictions.inc({ reason });
    gauges();
  }

  function enforceBudget(): void {
    for (const r of rooms.values()) {
      if (totalBytes <= opts.maxBytes && rooms.size <= MAX_ROOMS) break;
      drop(r, totalBytes > opts.maxBytes ? "budget" : "rooms");
    }
  }

  function add(r: Room, seq: number, deliverySeq: number, pending: number, body: string): void {
    if (r.dead) return;
    if (deliverySeq !== r.deliverySeq + 1 || seq <= r.upTo) {
      log.warn({ stream: STREAM_ROOMS }, "history cache consumer skipped a delivery; dropping the room");
      drop(r, "failed");
      return;
    }
    r.deliverySeq = deliverySeq;
    if (pending === 0) r.loaded = true;
    r.upTo = seq;
    r.seqs.push(seq);
    const m = storedMessage(r.room, seq, body);
    r.msgs.push(m);
    r.json.push(JSON.stringify(m));
    // The parsed message and its JSON (one byte a character when ASCII) are about twice the body.
    const size = body.length * 2 + MESSAGE_OVERHEAD_BYTES;
    r.sizes.push(size);
    r.bytes += size;
    totalBytes += size;
    if (r.waiters.length > 0) {
      const ready = r.waiters.filter((w) => w.seq <= seq);
      if (ready.length > 0) {
        r.waiters = r.waiters.filter((w) => w.seq > seq);
        for (const w of ready) w.done(true);
      }
    }
    if (totalBytes > opts.maxBytes) enforceBudget();
    metrics.cacheBytes.set(totalBytes);
  }

  async function load(r: Room): Promise<void> {
    const state = await store.streamState();
    r.removals = state.removals;
    r.streamCreated = state.created;
    const feed = await store.follow(r.subject, CONSUMER_INACTIVE_MS);
    if (r.dead) {
      feed.close();
      return;
    }
    r.feed = feed;
    if (feed.pendingAtStart === 0) r.loaded = true;
    feed.onFailure(() => drop(r, "failed"));
    for await (const m of feed.messages) add(r, m.seq, m.deliverySeq, m.pending, m.body);
    // The feed ends when the room is dropped (or the connection closes): nothing more will be delivered.
    drop(r, "failed");
  }

  function startLoad(room: string, subject: string): void {
    if (closed || opts.maxBytes <= 0) return;
    const last = builtAt.get(subject);
    if (last !== undefined && Date.now() - last < REBUILD_MIN_MS) return;
    if (builtAt.size >= MAX_ROOMS * 4) builtAt.delete(builtAt.keys().next().value as string);
    builtAt.delete(subject);
    builtAt.set(subject, Date.now());
    const r: Room = {
      subject,
      room,
      seqs: [],
      msgs: [],
      json: [],
      sizes: [],
      bytes: 0,
      surplus: 0,
      behind: 0,
      loaded: false,
      upTo: 0,
      removals: -1,
      streamCreated: "",
      deliverySeq: 0,
      waiters: [],
      dead: false,
    };
    rooms.set(subject, r);
    gauges();
    enforceBudget();
    load(r).catch((err: unknown) => {
      log.warn({ err: (err as Error).message }, "history cache could not load a room; reading it from JetStream");
      drop(r, "failed");
    });
  }

  /** Resolves true once `r` has delivered up to `seq`, false when it is dropped or CATCHUP_WAIT_MS passes. */
  function caughtUp(r: Room, seq: number): Promise<boolean> {
    if (r.upTo >= seq) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = {
        seq,
        done: (ok: boolean) => {
          clearTimeout(timer);
          resolve(ok);
        },
      };
      const timer = setTimeout(() => {
        r.waiters = r.waiters.filter((x) => x !== w);
        resolve(false);
      }, CATCHUP_WAIT_MS);
      r.waiters.push(w);
    });
  }

  /**
   * After some removal in the stream (`removals` ≠ the room's count, read just now at t1): if the room lost only
   * messages at its old end (max age, the per-room limit, a trim), the cache is cut there and still exact; any
   * other removal (a moderation delete) is "interior" and the room is loaded again. "retry": a removal or an
   * arrival during the check; this page is read from JetStream and the next one checks again. In order:
   *   t1  removals R1 (the caller's stream info);
   *   t2  the consumer's delivered position D: a cached message above D was loaded by the server after t1, so it
   *       existed after t1; one at or below D may have been removed before t1 while in flight;
   *   t3  the room's count c;  t4  its last offset L;  t5  its first offset F;
   *   then the cache catches up to max(L, D), and t6 reads the removal count again: equal to R1 means nothing was
   *   removed from t1 to t6, so the room at t3 ⊆ the room at t4 = every message in [F, L] the consumer delivered.
   *   The cache's count in [F, L] equal to c then means no arrival between t3 and t4 and no removed message in it.
   *   Cached messages at or below D and above L were removed (they existed before t2, are not there at t4, and
   *   nothing was removed from t1 on) and are cut too.
   */
  async function revalidate(r: Room, removals1: number): Promise<"ok" | "retry" | "interior"> {
    if (r.feed === undefined) return "retry";
    const delivered = await r.feed.delivered();
    const count = await store.roomCount(r.subject);
    const last = await store.lastOffset(r.subject);
    const first = (last === 0 ? undefined : await store.firstOffset(r.subject)) ?? Number.POSITIVE_INFINITY;
    if (!(await caughtUp(r, Math.max(last, delivered))) || isDead(r)) return "retry";
    const after = await store.streamState();
    if (isDead(r) || after.created !== r.streamCreated || after.removals !== removals1) return "retry";
    // Cut below F, and above L up to D.
    const from = lowerBound(r.seqs, first === Number.POSITIVE_INFINITY ? last + 1 : first);
    const cutLo = lowerBound(r.seqs, last + 1);
    const cutHi = lowerBound(r.seqs, delivered + 1);
    const kept = cutLo - from;
    // Fewer cannot happen (the room at t3 is cached); more is an arrival between t3 and t4, or a removed message
    // still cached: twice in a row, the room is loaded again.
    if (kept < count) return "interior";
    if (kept > count) return ++r.surplus >= 2 ? "interior" : "retry";
    r.surplus = 0;
    if (from > 0 || cutHi > cutLo) {
      const keep = (i: number) => i >= from && (i < cutLo || i >= cutHi);
      let freed = 0;
      const seqs: number[] = [];
      const msgs: StoredMessage[] = [];
      const json: string[] = [];
      const sizes: number[] = [];
      for (let i = 0; i < r.seqs.length; i++) {
        if (!keep(i)) freed += r.sizes[i]!;
        else {
          seqs.push(r.seqs[i]!);
          msgs.push(r.msgs[i]!);
          json.push(r.json[i]!);
          sizes.push(r.sizes[i]!);
        }
      }
      r.seqs = seqs;
      r.msgs = msgs;
      r.json = json;
      r.sizes = sizes;
      r.bytes -= freed;
      totalBytes -= freed;
      metrics.cacheBytes.set(totalBytes);
    }
    r.removals = removals1;
    return "ok";
  }

  async function read(q: ReadQuery): Promise<Page> {
    checkLimit(q.limit);
    const subject = Subjects.room(q.app, q.room);
    const r = rooms.get(subject);
    if (r === undefined || r.removals < 0 || r.feed === undefined) {
      metrics.cacheReads.inc({ result: "cold" });
      if (r === undefined) startLoad(q.room, subject);
      return base.read(q);
    }
    rooms.delete(subject);
    rooms.set(subject, r);

    const retention = await retentionOf(q.app);
    // (1) then (2): the order matters (see the header).
    const last = await store.lastOffset(subject);
    const info = await store.streamState();
    if (r.dead) {
      metrics.cacheReads.inc({ result: "cold" });
      return base.read(q);
    }
    if (info.created !== r.streamCreated) {
      metrics.cacheReads.inc({ result: "stale" });
      drop(r, "stale");
      return base.read(q);
    }
    const { removals } = info;
    let revalidated = false;
    if (removals !== r.removals) {
      const outcome = await revalidate(r, removals);
      if (outcome !== "ok") {
        metrics.cacheReads.inc({ result: "stale" });
        if (outcome === "interior") {
          drop(r, "stale");
          startLoad(q.room, subject);
        }
        return base.read(q);
      }
      revalidated = true;
    }
    const plan = planPage(q, timeWindow(q, retention, Date.now()), last);
    const { lo, hi, need, accept } = plan;
    // Still loading: no wait (the load may take a while); serve once it has reached L.
    const ready = r.loaded ? await caughtUp(r, hi) : r.upTo >= hi;
    if (ready) r.loaded = true;
    else if (!isDead(r) && !r.loaded) {
      metrics.cacheReads.inc({ result: "cold" });
      return base.read(q);
    }
    if (!ready || isDead(r)) {
      metrics.cacheReads.inc({ result: "behind" });
      // A message lost in transit shows as a gap at the next delivery; with none coming, give up after a few.
      if (!isDead(r) && r.upTo < hi && ++r.behind >= 3) drop(r, "failed");
      return base.read(q);
    }
    if (retention.maxMessagesPerRoom !== undefined && lowerBound(r.seqs, last + 1) > retention.maxMessagesPerRoom) {
      metrics.cacheReads.inc({ result: "retention" });
      return base.read(q);
    }
    r.behind = 0;
    metrics.cacheReads.inc({ result: revalidated ? "revalidated" : "hit" });

    if (hi < lo) return emptyPage();
    const { seqs, msgs, json } = r;
    /** Indexes of the matching messages, in page order. */
    const rows: number[] = [];
    if (q.direction === "forwards") {
      for (let i = lowerBound(seqs, lo); i < seqs.length && seqs[i]! <= hi && rows.length < need; i++) if (accept(msgs[i]!)) rows.push(i);
    } else {
      for (let i = lowerBound(seqs, hi + 1) - 1; i >= 0 && seqs[i]! >= lo && rows.length < need; i--) if (accept(msgs[i]!)) rows.push(i);
    }
    const { page } = cutPage(
      plan,
      rows.map((i) => msgs[i]!),
    );
    // The page's messages are the first rows: their JSON is already made.
    return withMessagesJson(
      page,
      rows.slice(0, page.messages.length).map((i) => json[i]!),
    );
  }

  return {
    read,
    lastOffset: (app, room) => base.lastOffset(app, room),
    close: async () => {
      closed = true;
      for (const r of [...rooms.values()]) drop(r, "budget");
    },
  };
}
