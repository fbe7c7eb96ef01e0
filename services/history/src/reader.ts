/**
 * Reads a room's messages straight from the rooms stream (DESIGN §7), per room subject: an ephemeral in-memory
 * consumer with `filter_subject` (works on nats-server 2.9 and 2.11+) started at the lower bound, fetching exactly
 * the number of messages it reports pending. Backwards pages widen a window below the upper bound until it holds
 * `limit` messages. `next` is an opaque cursor that continues in the same direction with the same bounds.
 */
import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { SwitchboardError, HISTORY_LIMIT_MAX, type StoredMessage } from "@switchboard/protocol";
import { STREAM_ROOMS, Subjects, storedMessage } from "@switchboard/core";

export type Direction = "backwards" | "forwards";

export interface ReadQuery {
  app: string;
  room: string;
  limit: number;
  direction: Direction;
  /** Offsets: messages strictly before / after. */
  before?: number | undefined;
  after?: number | undefined;
  /** Epoch ms, inclusive. */
  start?: number | undefined;
  end?: number | undefined;
}

export interface Page {
  messages: StoredMessage[];
  next: string | null;
}

export interface Reader {
  read(q: ReadQuery): Promise<Page>;
  /** The offset of the room's newest message (0 when it has none). */
  lastOffset(app: string, room: string): Promise<number>;
}

const decoder = new TextDecoder();
const FETCH_BATCH = 256;

interface Cursor {
  d: "b" | "f";
  b?: number;
  a?: number;
  s?: number;
  e?: number;
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString("base64url");
}

export function decodeCursor(next: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(next, "base64url").toString("utf8")) as Cursor;
    if (c.d !== "b" && c.d !== "f") throw new Error("direction");
    for (const k of ["b", "a", "s", "e"] as const)
      if (c[k] !== undefined && (typeof c[k] !== "number" || !Number.isSafeInteger(c[k]))) throw new Error(k);
    return c;
  } catch {
    throw new SwitchboardError("bad_request", "next is not a cursor this service issued; pass it back unchanged");
  }
}

/** Applies a cursor over a query (the cursor's bounds replace the query's). */
export function applyCursor(q: ReadQuery, next: string): ReadQuery {
  const c = decodeCursor(next);
  return { ...q, direction: c.d === "b" ? "backwards" : "forwards", before: c.b, after: c.a, start: c.s, end: c.e };
}

export function createReader(js: JetStreamClient, jsm: JetStreamManager): Reader {
  async function lastOffset(app: string, room: string): Promise<number> {
    const m = await jsm.direct.getMessage(STREAM_ROOMS, { last_by_subj: Subjects.room(app, room) });
    return m === null ? 0 : m.seq;
  }

  /** Whether `subject` has a message with lo <= seq <= hi (one direct get). */
  async function hasAny(subject: string, lo: number, hi: number): Promise<boolean> {
    if (hi < lo) return false;
    const m = await jsm.direct.getMessage(STREAM_ROOMS, { seq: lo, next_by_subj: subject });
    return m !== null && m.seq <= hi;
  }

  /** Every message of `subject` with lo <= seq <= hi, in order. */
  async function range(subject: string, lo: number, hi: number, max: number): Promise<Array<{ seq: number; body: string }>> {
    const ci = await jsm.consumers.add(STREAM_ROOMS, {
      filter_subject: subject,
      deliver_policy: "by_start_sequence" as never,
      opt_start_seq: lo,
      ack_policy: "none" as never,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: 5_000_000_000,
    });
    const out: Array<{ seq: number; body: string }> = [];
    try {
      let pending = ci.num_pending;
      const consumer = js.consumers.getConsumerFromInfo(ci);
      while (pending > 0 && out.length < max) {
        const batch = Math.min(FETCH_BATCH, pending);
        const iter = await consumer.fetch({ max_messages: batch, expires: 2000 });
        let got = 0;
        let done = false;
        for await (const m of iter as AsyncIterable<JsMsg>) {
          got++;
          pending = m.info.pending;
          if (m.seq > hi) {
            done = true;
            break;
          }
          out.push({ seq: m.seq, body: decoder.decode(m.data) });
          if (out.length >= max || pending === 0) {
            done = true;
            break;
          }
        }
        if (done || got === 0) break;
      }
    } finally {
      await jsm.consumers.delete(STREAM_ROOMS, ci.name).catch(() => undefined);
    }
    return out;
  }

  async function read(q: ReadQuery): Promise<Page> {
    if (q.limit < 1 || q.limit > HISTORY_LIMIT_MAX)
      throw new SwitchboardError("bad_request", `limit must be from 1 to ${HISTORY_LIMIT_MAX}`);
    const subject = Subjects.room(q.app, q.room);
    const last = await lastOffset(q.app, q.room);
    const lo = (q.after ?? 0) + 1;
    const hi = Math.min(last, q.before === undefined ? last : q.before - 1);
    const inTime = (m: StoredMessage) =>
      (q.start === undefined || m.timestamp >= q.start) && (q.end === undefined || m.timestamp <= q.end);
    if (hi < lo) return { messages: [], next: null };

    let picked: StoredMessage[];
    let more: boolean;
    if (q.direction === "forwards") {
      const rows = await range(subject, lo, hi, q.limit);
      picked = rows.map((r) => storedMessage(q.room, r.seq, r.body)).filter(inTime);
      const lastSeq = rows.length > 0 ? rows[rows.length - 1]!.seq : hi;
      more = rows.length === q.limit && (await hasAny(subject, lastSeq + 1, hi));
      const next = more ? encodeCursor(cursor("f", { ...q, after: lastSeq })) : null;
      return { messages: picked, next };
    }
    // Backwards: widen a window below `hi` until it holds `limit` messages or reaches `lo`.
    let rows: Array<{ seq: number; body: string }> = [];
    let top = hi;
    let width = q.limit * 4;
    for (;;) {
      const from = Math.max(lo, top - width + 1);
      const chunk = await range(subject, from, top, Number.MAX_SAFE_INTEGER);
      rows = chunk.concat(rows);
      if (rows.length >= q.limit || from === lo) break;
      top = from - 1;
      width *= 4;
    }
    const page = rows.slice(-q.limit).reverse();
    picked = page.map((r) => storedMessage(q.room, r.seq, r.body)).filter(inTime);
    const oldest = page.length > 0 ? page[page.length - 1]!.seq : lo;
    more = rows.length > q.limit || (page.length === q.limit && (await hasAny(subject, lo, oldest - 1)));
    return { messages: picked, next: more ? encodeCursor(cursor("b", { ...q, before: oldest })) : null };
  }

  return { read, lastOffset };
}

function cursor(d: "b" | "f", q: ReadQuery): Cursor {
  const c: Cursor = { d };
  if (q.before !== undefined) c.b = q.before;
  if (q.after !== undefined) c.a = q.after;
  if (q.start !== undefined) c.s = q.start;
  if (q.end !== undefined) c.e = q.end;
  return c;
}
