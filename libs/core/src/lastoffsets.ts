/**
 * lastOffsetOf (offsets.ts) for a hot path: the gateway asks it for the first subscribe of every room, and a burst of
 * new rooms asked it ten thousand times at once. Through nats.js every direct get was a request object, a timer and
 * two Errors with stack traces (a quarter of the gateway's CPU while 10,000 rooms were set up; docs/PERFORMANCE.md).
 * Here the direct gets share one wildcard reply subscription and one timeout sweep, as the publisher does
 * (publisher.ts). Same answers as lastOffsetOf: the newest offset, 0 for a room with no message; the rare room whose
 * newest message was deleted (nats-server 2.9 then answers `last_by_subj` with 404) goes to lastOffsetOf's search.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { createInbox, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { lastOffsetOf } from "./offsets.js";

export interface LastOffsets {
  /** The offset of the newest message on `subject` (0 when none); rejects on timeout or a JetStream error. */
  of(subject: string): Promise<number>;
  close(): void;
}

interface Pending {
  resolve: (seq: number | null) => void;
  reject: (err: Error) => void;
  deadline: number;
}

const SWEEP_MS = 100;

export function createLastOffsets(nc: NatsConnection, jsm: JetStreamManager, opts: { stream: string; timeoutMs: number }): LastOffsets {
  const prefix = createInbox();
  const api = `$JS.API.DIRECT.GET.${opts.stream}`;
  const pending = new Map<string, Pending>();
  let next = 0;

  const onReply = (err: Error | null, msg: Msg): void => {
    if (err !== null) return;
    const token = msg.subject.slice(prefix.length + 1);
    const p = pending.get(token);
    if (p === undefined) return; // answered after its timeout
    pending.delete(token);
    const h = msg.headers;
    if (h?.hasError === true) {
      if (h.code === 404) p.resolve(null);
      else p.reject(new Error(`direct get on ${opts.stream} failed: ${h.code} ${h.description}`));
      return;
    }
    const seq = Number(h?.get("Nats-Sequence"));
    if (Number.isSafeInteger(seq) && seq > 0) p.resolve(seq);
    else p.reject(new Error(`direct get on ${opts.stream} answered without a sequence`));
  };
  const sub = nc.subscribe(`${prefix}.*`, { callback: onReply });

  // Entries are in deadline order (one timeout for all): the sweep stops at the first live one.
  const sweeper = setInterval(() => {
    const now = performance.now();
    for (const [token, p] of pending) {
      if (p.deadline > now) break;
      pending.delete(token);
      p.reject(new Error(`no direct get answer from ${opts.stream} within ${opts.timeoutMs} ms`));
    }
  }, SWEEP_MS);
  sweeper.unref();

  const get = (request: string): Promise<number | null> =>
    new Promise((resolve, reject) => {
      const token = String(++next);
      pending.set(token, { resolve, reject, deadline: performance.now() + opts.timeoutMs });
      try {
        nc.publish(api, request, { reply: `${prefix}.${token}` });
      } catch (err) {
        pending.delete(token);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });

  return {
    async of(subject) {
      const last = await get(JSON.stringify({ last_by_subj: subject }));
      if (last !== null) return last;
      const first = await get(JSON.stringify({ seq: 1, next_by_subj: subject }));
      return first === null ? 0 : lastOffsetOf(jsm, subject);
    },
    close() {
      clearInterval(sweeper);
      sub.unsubscribe();
      for (const p of pending.values()) p.reject(new Error("closed"));
      pending.clear();
    },
  };
}
