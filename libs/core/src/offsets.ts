/**
 * The newest offset of a room, for history paging and for where a gateway subscription starts.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { STREAM_ROOMS } from "./subjects.js";

/**
 * The offset of the room's newest message (0 when it has none): every message stored before the call has an
 * offset at or below it. nats-server 2.9 answers `last_by_subj` with nothing once the room's newest message was
 * deleted (until the next publish), so then the newest is found by a binary search on `next_by_subj`.
 */
export async function lastOffsetOf(jsm: JetStreamManager, subject: string): Promise<number> {
  const m = await jsm.direct.getMessage(STREAM_ROOMS, { last_by_subj: subject });
  if (m !== null) return m.seq;
  const first = await jsm.direct.getMessage(STREAM_ROOMS, { seq: 1, next_by_subj: subject });
  if (first === null) return 0;
  // lo: a message of the room; none above hi.
  let lo = first.seq;
  let hi = (await jsm.streams.info(STREAM_ROOMS)).state.last_seq;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const next = await jsm.direct.getMessage(STREAM_ROOMS, { seq: mid, next_by_subj: subject });
    if (next === null) hi = mid - 1;
    else lo = next.seq;
  }
  return lo;
}
