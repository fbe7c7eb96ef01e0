/**
 * The newest offset of a room, for history paging and for where a gateway subscription starts.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { STREAM_ROOMS } from "./subjects.js";

/**
 * The offset of the room's newest message (0 when it has none): every message stored before the call has an
 * offset at or below it. nats-server 2.9 answers `last_by_subj` with nothing once the room's newest message was
 * deleted (until the next publish), so then the newest is found by a binary search on `next_by_subj`.
 *
 * The newest is asked of the stream leader (STREAM.MSG.GET), not by direct get: with replicas any replica answers
 * a direct get, and one still catching up after a restart or a partition answered with an older newest offset, so
 * history pages ended early and a gateway could start a subscription too far back (test/faults/nats-cluster.test.ts,
 * the partition case). The rare fallback search stays on direct gets (MSG.GET has no `next_by_subj` in nats.js).
 */
export async function lastOffsetOf(jsm: JetStreamManager, subject: string): Promise<number> {
  const m = await jsm.streams.getMessage(STREAM_ROOMS, { last_by_subj: subject });
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
