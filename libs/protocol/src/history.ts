/**
 * A history query: the fields of the socket `history` request, of `GET /v1/rooms/:room/messages` and of the history
 * service's NATS endpoint (docs/PROTOCOL.md). One parser for all three, so a bad value is refused with the same code
 * (`bad_request`) and the same message wherever it comes from. The room is not part of it: each entry point takes it
 * from its own place (the frame, the path, the request body) and checks it with the room rules of names.ts.
 *
 * Only the fields given are set; the defaults (HISTORY_LIMIT_DEFAULT, newest first) are the reader's to apply.
 */
import { SwitchboardError } from "./errors.js";

/** Most messages a history page holds. */
export const HISTORY_LIMIT_MAX = 100;
/** Messages a history page holds when the query does not say. */
export const HISTORY_LIMIT_DEFAULT = 100;
/** Longest `next` cursor accepted (a cursor the service issued is far shorter). */
export const HISTORY_CURSOR_MAX = 512;

/** Newest first (default) or oldest first: the page's order and the way `before`/`after` bound it. */
export type HistoryDirection = "backwards" | "forwards";

export interface HistoryQuery {
  limit?: number;
  direction?: HistoryDirection;
  /** Offsets: messages strictly before / after. */
  before?: number;
  after?: number;
  /** Epoch ms, inclusive, on the message `timestamp`. */
  start?: number;
  end?: number;
  /** A page's `next` cursor, passed back unchanged (HTTP and NATS; the socket request pages with before/after). */
  next?: string;
}

export interface HistoryQueryOptions {
  /** "json" (default): numbers are JSON numbers. "url": every value is a query-string string (decimal digits). */
  source?: "json" | "url";
  /** Read `next` (default true). */
  cursor?: boolean;
  /** Refuse any other field (default false: other fields are the caller's). */
  exact?: boolean;
}

const FIELDS = ["limit", "direction", "before", "after", "start", "end", "next"] as const;
const OFFSET_OR_TIME = [
  ["before", 1, "an offset"],
  ["after", 0, "an offset"],
  ["start", 0, "a time in epoch ms"],
  ["end", 0, "a time in epoch ms"],
] as const;

function bad(message: string): never {
  throw new SwitchboardError("bad_request", message);
}

/** The integer `v` is, or undefined when it is none (from a URL: decimal digits only). */
function integer(v: unknown, url: boolean): number | undefined {
  const n = url ? (typeof v === "string" && /^\d{1,16}$/.test(v) ? Number(v) : undefined) : v;
  return typeof n === "number" && Number.isSafeInteger(n) ? n : undefined;
}

/** `limit` when it is a page size from 1 to HISTORY_LIMIT_MAX; throws `bad_request` otherwise. */
export function assertHistoryLimit(limit: unknown): number {
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > HISTORY_LIMIT_MAX)
    bad(`limit must be an integer from 1 to ${HISTORY_LIMIT_MAX}`);
  return limit;
}

/** Reads the history query fields of `o`; throws `bad_request` naming the field for a bad value. */
export function parseHistoryQuery(o: Readonly<Record<string, unknown>>, opts: HistoryQueryOptions = {}): HistoryQuery {
  const url = opts.source === "url";
  const cursor = opts.cursor ?? true;
  if (opts.exact === true)
    for (const key of Object.keys(o))
      if (!(FIELDS as readonly string[]).includes(key) || (key === "next" && !cursor))
        bad(`unknown field ${JSON.stringify(key.slice(0, 40))}; use ${FIELDS.filter((f) => cursor || f !== "next").join(", ")}`);
  const q: HistoryQuery = {};
  if (o["limit"] !== undefined) q.limit = assertHistoryLimit(integer(o["limit"], url));
  const direction = o["direction"];
  if (direction !== undefined) {
    if (direction !== "backwards" && direction !== "forwards") bad('direction must be "backwards" or "forwards"');
    q.direction = direction;
  }
  for (const [key, min, what] of OFFSET_OR_TIME) {
    if (o[key] === undefined) continue;
    const v = integer(o[key], url);
    if (v === undefined || v < min) bad(`${key} must be ${what}: an integer of at least ${min}`);
    q[key] = v;
  }
  const next = o["next"];
  if (cursor && next !== undefined) {
    if (typeof next !== "string" || next.length === 0 || next.length > HISTORY_CURSOR_MAX)
      bad("next must be the `next` string of a page, passed back unchanged");
    q.next = next;
  }
  return q;
}
