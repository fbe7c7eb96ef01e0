/**
 * The history pager: what a page is, written once for both readers — the JetStream reader (reader.ts) and the read
 * cache (cache.ts) — and pure (no I/O; the clock is passed in), so it is tested with exact values (pager.test.ts).
 *
 * 0. `readQuery`: a parsed query (libs/protocol parseHistoryQuery) with the defaults and its cursor applied.
 * 1. `checkLimit`: 1 ≤ limit ≤ HISTORY_LIMIT_MAX.
 * 2. `timeWindow`: the timestamps a page may hold: the query's start/end, with start raised to the app's max age.
 * 3. `planPage`: the offsets to read, [lo, hi]: above `after` and the resolved start, below `before`, the room's last
 *    offset and the resolved end; the filter on `timestamp`; and the bounds a next page continues from (time bounds
 *    already resolved to offsets, so the next read does not probe again).
 * 4. `cutPage`: up to `need` (limit + 1) matching rows in page order → the page and its `next` cursor. The extra row
 *    says whether there is a next page. Forwards cursors pin the upper bound at `hi` (the room's end when the first
 *    page was read); backwards cursors carry the offsets the page spanned, so the next page reads one window.
 */
import { HISTORY_LIMIT_DEFAULT, assertHistoryLimit, type HistoryQuery, type StoredMessage } from "@switchboard/protocol";
import { applyCursor, encodeCursor, type Bounds, type Direction } from "./cursor.js";

export interface ReadQuery extends Bounds {
  app: string;
  room: string;
  limit: number;
}

export interface Page {
  messages: StoredMessage[];
  next: string | null;
}

/** An app's retention where it is stricter than the stream's (undefined fields: the stream's applies). */
export interface AppRetention {
  maxAgeMs?: number | undefined;
  maxMessagesPerRoom?: number | undefined;
}

/** Throws `bad_request` unless 1 ≤ limit ≤ HISTORY_LIMIT_MAX (the query parser's own check). */
export function checkLimit(limit: number): void {
  assertHistoryLimit(limit);
}

/** A parsed query (libs/protocol parseHistoryQuery) of `room` as a read: defaults applied, a cursor's bounds in. */
export function readQuery(app: string, room: string, h: HistoryQuery): ReadQuery {
  const q: ReadQuery = {
    app,
    room,
    limit: h.limit ?? HISTORY_LIMIT_DEFAULT,
    direction: h.direction ?? "backwards",
    before: h.before,
    after: h.after,
    start: h.start,
    end: h.end,
  };
  return h.next === undefined ? q : applyCursor(q, h.next);
}

/** Epoch ms, inclusive, on the message `timestamp`; undefined: unbounded. */
export interface TimeWindow {
  start: number | undefined;
  end: number | undefined;
}

/** The query's start/end, start raised so that nothing older than the app's max age (at `now`) is returned. */
export function timeWindow(q: Bounds, retention: AppRetention, now: number): TimeWindow {
  const start = retention.maxAgeMs === undefined ? q.start : Math.max(q.start ?? 0, now - retention.maxAgeMs);
  return { start, end: q.end };
}

/** Stream offsets the time window resolved to (the reader probes them; the cache filters on `timestamp` alone). */
export interface ResolvedTime {
  /** Every message above this offset was stored at or after the window's start. */
  below?: number | undefined;
  /** No message above this offset was stored at or before the window's end. */
  above?: number | undefined;
}

export interface PagePlan {
  direction: Direction;
  limit: number;
  /** Offsets to read, inclusive; hi < lo: the page is empty. */
  lo: number;
  hi: number;
  /** Matching rows to collect: one more than the page, to know whether a next page exists. */
  need: number;
  /** Whether a row's timestamp is in the window. */
  accept: (m: StoredMessage) => boolean;
  /** What a next page continues from. */
  resolved: Bounds;
}

/** The page to read: `last` is the room's last offset (any value at or above it when unknown and `before` bounds). */
export function planPage(q: ReadQuery, time: TimeWindow, last: number, resolvedTime: ResolvedTime = {}): PagePlan {
  const { start, end } = time;
  let lo = (q.after ?? 0) + 1;
  let hi = Math.min(last, q.before === undefined ? last : q.before - 1);
  if (resolvedTime.below !== undefined) lo = Math.max(lo, resolvedTime.below + 1);
  if (resolvedTime.above !== undefined) hi = Math.min(hi, resolvedTime.above);
  return {
    direction: q.direction,
    limit: q.limit,
    lo,
    hi,
    need: q.limit + 1,
    accept: (m) => (start === undefined || m.timestamp >= start) && (end === undefined || m.timestamp <= end),
    resolved: { direction: q.direction, start: q.start, end: q.end, timeResolved: true, after: lo > 1 ? lo - 1 : undefined },
  };
}

/** A page with no messages and no cursor. */
export function emptyPage(): Page {
  return { messages: [], next: null };
}

/**
 * The page of `rows`: the matching rows in page order (oldest first forwards, newest first backwards), at least
 * `plan.need` of them or every one in [lo, hi]. `widthHint` (backwards, when there is a next page): the offsets
 * the page and its extra row spanned.
 */
export function cutPage(plan: PagePlan, rows: readonly StoredMessage[]): { page: Page; widthHint?: number } {
  const { limit } = plan;
  const lastOfPage = rows[limit - 1];
  const extra = rows[limit];
  if (lastOfPage === undefined || extra === undefined) return { page: { messages: rows.slice(), next: null } };
  const messages = rows.slice(0, limit);
  if (plan.direction === "forwards")
    return { page: { messages, next: encodeCursor({ ...plan.resolved, after: lastOfPage.offset, before: plan.hi + 1 }) } };
  const widthHint = plan.hi - extra.offset + 1;
  return { page: { messages, next: encodeCursor({ ...plan.resolved, before: lastOfPage.offset, widthHint }) }, widthHint };
}
