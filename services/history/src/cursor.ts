/**
 * The opaque `next` cursor of a history page: base64url JSON of the direction and the bounds of the next read.
 * Forwards cursors pin the upper bound at the room's end when the first page was read, and backwards cursors move
 * the upper bound down to the oldest message returned, so paging visits every message exactly once while new
 * messages arrive. `t` marks bounds that already include the time bounds resolved to offsets (no re-probe);
 * `w` is a hint of how many offsets held the last page, so the next backwards page reads one window.
 */
import { SwitchboardError, type HistoryDirection } from "@switchboard/protocol";

export type Direction = HistoryDirection;

export interface Bounds {
  direction: Direction;
  /** Offsets: messages strictly before / after. */
  before?: number | undefined;
  after?: number | undefined;
  /** Epoch ms, inclusive, on the message `timestamp`. */
  start?: number | undefined;
  end?: number | undefined;
  /** Internal: before/after already narrowed by start/end. */
  timeResolved?: boolean | undefined;
  /** Internal: offsets spanned by the last backwards page. */
  widthHint?: number | undefined;
}

interface Cursor {
  d: "b" | "f";
  b?: number;
  a?: number;
  s?: number;
  e?: number;
  t?: 1;
  w?: number;
}

const NUMERIC = ["b", "a", "s", "e", "w"] as const;

export function encodeCursor(q: Bounds): string {
  const c: Cursor = { d: q.direction === "backwards" ? "b" : "f" };
  if (q.before !== undefined) c.b = q.before;
  if (q.after !== undefined) c.a = q.after;
  if (q.start !== undefined) c.s = q.start;
  if (q.end !== undefined) c.e = q.end;
  if (q.timeResolved === true) c.t = 1;
  if (q.widthHint !== undefined) c.w = q.widthHint;
  return Buffer.from(JSON.stringify(c)).toString("base64url");
}

export function decodeCursor(next: string): Bounds {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(next, "base64url").toString("utf8"));
  } catch {
    parsed = undefined;
  }
  // Checked field by field: the cursor comes back from the client and may be anything.
  const raw = (typeof parsed === "object" && parsed !== null ? parsed : {}) as Record<string, unknown>;
  const valid =
    (raw["d"] === "b" || raw["d"] === "f") &&
    (raw["t"] === undefined || raw["t"] === 1) &&
    NUMERIC.every((k) => raw[k] === undefined || (Number.isSafeInteger(raw[k]) && (raw[k] as number) >= 0));
  const c = raw as unknown as Cursor;
  if (!valid) throw new SwitchboardError("bad_request", "next is not a cursor this service issued; pass it back unchanged");
  return {
    direction: c.d === "b" ? "backwards" : "forwards",
    before: c.b,
    after: c.a,
    start: c.s,
    end: c.e,
    timeResolved: c.t === 1,
    widthHint: c.w,
  };
}

/** A query continued from a cursor: the cursor's direction and bounds replace the query's; limit stays. */
export function applyCursor<Q extends Bounds>(q: Q, next: string): Q {
  return { ...q, ...decodeCursor(next) };
}
