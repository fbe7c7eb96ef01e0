/**
 * Reads a room's messages straight from the rooms stream (docs/HTTP-API.md), per room subject, with an ephemeral
 * in-memory pull consumer filtered on the room (`filter_subject`: works on nats-server 2.9 and 2.11+). A consumer
 * costs about one round trip to create and streams a whole page in one fetch; direct get (`next_by_subj`) costs
 * one round trip per message, so it is used only for single lookups (docs/PERFORMANCE.md has the figures).
 *
 * - Forwards: one consumer from the lower bound, fetching until `limit + 1` matching messages (the extra one says
 *   whether there is a next page), the upper bound, or the end. The cursor pins the upper bound at the room's end
 *   when the first page was read, so paging ends and every message is returned exactly once.
 * - Backwards: a window of offsets below the upper bound, sized from the previous page's span (in the cursor) or
 *   the room's spacing remembered from an earlier read, resized from the consumer's pending count before fetching
 *   while it reaches the room's end, and widened by what it held until it holds `limit + 1` matching messages.
 * - start/end (ms, on the message `timestamp`) narrow the read itself: a consumer created `by_start_time` reports
 *   the stream position of a time, which bounds the offsets; the page is then filtered exactly on `timestamp`.
 *   The stream's own clock may differ from the stamping service's, so the bound is widened by TIME_SKEW_MS.
 * - Deleted messages are gone from the stream, so neither consumers nor direct gets return them.
 * - Per-app retention: older than the app's max age is filtered out (a time bound), and a room beyond the app's
 *   message count is trimmed in the stream (purge with `keep`) before it is read.
 */
import type { ConsumerInfo, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { unavailable, type StoredMessage } from "@switchboard/protocol";
import {
  STREAM_ROOMS,
  Subjects,
  addEphemeralConsumer,
  deleteEphemeralConsumer,
  lastOffsetOf,
  storedMessage,
  type ConsumerStart,
} from "@switchboard/core";
import {
  checkLimit,
  cutPage,
  emptyPage,
  planPage,
  timeWindow,
  type AppRetention,
  type Page,
  type PagePlan,
  type ReadQuery,
} from "./pager.js";

export { applyCursor, type Direction } from "./cursor.js";

export interface Reader {
  read(q: ReadQuery): Promise<Page>;
  /** The offset of the room's newest message (0 when it has none). */
  lastOffset(app: string, room: string): Promise<number>;
}

/** How far the stream's clock may be from the clock that stamped `timestamp`. */
export const TIME_SKEW_MS = 2000;
const FETCH_BATCH = 256;
/** Long enough that a CPU-starved process does not miss the pull heartbeats (half of this); pages end on `pending`. */
const FETCH_EXPIRES_MS = 5000;
const SPACING_CACHE_MAX = 10_000;
const decoder = new TextDecoder();

type Accept = PagePlan["accept"];

export function createReader(
  js: JetStreamClient,
  jsm: JetStreamManager,
  retentionOf: (app: string) => Promise<AppRetention> = async () => ({}),
): Reader {
  const lastSeq = (subject: string): Promise<number> => lastOffsetOf(jsm, subject);

  const openConsumer = (subject: string, from: ConsumerStart): Promise<ConsumerInfo> =>
    addEphemeralConsumer(jsm, STREAM_ROOMS, subject, from);

  /** Deleting is not awaited: the page does not wait for it. */
  function closeConsumer(name: string): void {
    void deleteEphemeralConsumer(jsm, STREAM_ROOMS, name);
  }

  /** The last stream offset stored before time `t` (ms): every message after it was stored at or after `t`. */
  async function offsetBefore(subject: string, t: number): Promise<number> {
    const ci = await openConsumer(subject, { time: t });
    closeConsumer(ci.name);
    return ci.delivered.stream_seq;
  }

  /**
   * Matching messages of `subject` with from <= offset <= to, oldest first, at most `want`. With `expect`, answers
   * `{ pending }` without fetching when the count of messages at or after `from` falls outside [min, max].
   *
   * The ephemeral consumer reads the replica it was placed on, which may still be catching up after a restart or a
   * partition: a read that runs out of messages below min(to, the room's last offset per the stream leader) came from
   * such a replica and answers `unavailable` (retry) instead of a short page (test/faults/nats-cluster.test.ts).
   * `last` is that offset when the caller has just read it; otherwise it is read only in that case.
   */
  async function collect(
    room: string,
    subject: string,
    from: number,
    to: number,
    want: number,
    accept: Accept,
    expect?: { min: number; max: number },
    batchMax = FETCH_BATCH,
    last?: number,
  ): Promise<StoredMessage[] | { pending: number }> {
    const ci = await openConsumer(subject, { seq: from });
    try {
      let pending = ci.num_pending;
      if (expect !== undefined && (pending < expect.min || pending > expect.max)) return { pending };
      const consumer = js.consumers.getConsumerFromInfo(ci);
      const out: StoredMessage[] = [];
      let highest = 0;
      let beyond = false;
      while (pending > 0 && out.length < want) {
        const batch = Math.min(batchMax, pending, want - out.length + 4);
        const iter = await consumer.fetch({ max_messages: batch, expires: FETCH_EXPIRES_MS });
        let got = 0;
        let done = false;
        for await (const m of iter as AsyncIterable<JsMsg>) {
          got++;
          pending = m.info.pending;
          highest = m.seq;
          if (m.seq > to) {
            beyond = true;
            done = true;
            break;
          }
          const sm = storedMessage(room, m.seq, decoder.decode(m.data));
          if (accept(sm)) out.push(sm);
          if (out.length >= want || pending === 0) {
            done = true;
            break;
          }
        }
        if (done || got === 0) break;
      }
      if (!beyond && out.length < want) {
        const end = Math.min(to, last ?? (await lastSeq(subject)));
        if (end >= from && highest < end) throw unavailable("history read a replica that is still catching up; retry");
      }
      return out;
    } finally {
      closeConsumer(ci.name);
    }
  }

  /** Offsets per message of recently read rooms: sizes the first backwards window without a lookup. */
  const spacing = new Map<string, number>();
  function rememberSpacing(subject: string, offsetsPerMessage: number): void {
    if (spacing.size >= SPACING_CACHE_MAX) spacing.delete(spacing.keys().next().value as string);
    spacing.set(subject, offsetsPerMessage);
  }

  async function read(q: ReadQuery): Promise<Page> {
    checkLimit(q.limit);
    const subject = Subjects.room(q.app, q.room);
    const retention = await retentionOf(q.app);
    if (retention.maxMessagesPerRoom !== undefined)
      await jsm.streams.purge(STREAM_ROOMS, { filter: subject, keep: retention.maxMessagesPerRoom });
    const time = timeWindow(q, retention, Date.now());
    // A cursor's upper bound is already below the room's end (or pinned to it): no lookup needed.
    const fromCursor = q.timeResolved === true && q.before !== undefined;
    const [last, below, above] = await Promise.all([
      fromCursor ? Number.MAX_SAFE_INTEGER : lastSeq(subject),
      q.timeResolved === true || time.start === undefined ? undefined : offsetBefore(subject, time.start - TIME_SKEW_MS),
      q.timeResolved === true || time.end === undefined ? undefined : offsetBefore(subject, time.end + TIME_SKEW_MS + 1),
    ]);
    const plan = planPage(q, time, last, { below, above });
    const { lo, hi, need, accept } = plan;
    if (hi < lo) return emptyPage();

    const fresh = fromCursor ? undefined : last;
    if (q.direction === "forwards")
      return cutPage(plan, (await collect(q.room, subject, lo, hi, need, accept, undefined, FETCH_BATCH, fresh)) as StoredMessage[]).page;

    // Backwards: a window of offsets below `top`, sized from the last page's span or the room's known spacing.
    // While the window reaches the room's end, the consumer's pending count is the window's count, so a window
    // far too narrow or too wide is resized before anything is fetched.
    let rows: StoredMessage[] = [];
    const known = q.widthHint !== undefined ? q.widthHint / need : spacing.get(subject);
    let width = Math.ceil(need * (known ?? 8) * 1.25) + 8;
    let top = hi;
    let resized = 0;
    for (;;) {
      const from = Math.max(lo, top - width + 1);
      const missing = need - rows.length;
      const check = !fromCursor && top === last && resized < 3 ? { min: from > lo ? missing : 0, max: missing * 4 + 64 } : undefined;
      // Below the room's end, pending also counts what lies above the window: fetch about what the window holds.
      const batch = Math.min(FETCH_BATCH, Math.ceil((width / (known ?? 1)) * 1.2) + 8);
      const chunk = await collect(
        q.room,
        subject,
        from,
        top,
        Number.POSITIVE_INFINITY,
        accept,
        check,
        batch,
        top === last ? fresh : undefined,
      );
      if (!Array.isArray(chunk)) {
        resized++;
        width = Math.ceil((width * missing * 1.3) / Math.max(1, chunk.pending)) + 8;
        continue;
      }
      rows = chunk.concat(rows);
      if (rows.length >= need || from === lo) break;
      const span = hi - from + 1;
      width = rows.length === 0 ? span * 4 : Math.ceil((span * (need - rows.length) * 1.5) / rows.length) + 8;
      top = from - 1;
    }
    const { page, widthHint } = cutPage(plan, rows.reverse());
    if (widthHint !== undefined) rememberSpacing(subject, widthHint / need);
    return page;
  }

  return { read, lastOffset: (app, room) => lastSeq(Subjects.room(app, room)) };
}
