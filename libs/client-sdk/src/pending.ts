/**
 * The client's pending requests, apart from the connection (as ably-js keeps its pending-message queue apart from the
 * transport): requests waiting for a connection, and requests sent and waiting for their reply by id, each with a
 * timeout. The client tells it when a reply arrives, when the connection is lost (requests that may be retried go
 * back to the queue, the others fail) and when it is up again (the queue is sent in order).
 */
import { SwitchboardError } from "@switchboard/protocol/errors";
import type { RequestType } from "@switchboard/protocol/frames";

export interface Pending {
  type: RequestType;
  fields: object;
  /** Send again after a reconnect when the connection was lost before the reply. */
  retry: boolean;
  resolve: (value: never) => void;
  reject: (err: unknown) => void;
  timer?: ReturnType<typeof setTimeout>;
}

export class PendingRequests {
  private readonly inflight = new Map<number, Pending>();
  private queue: Pending[] = [];
  private nextId = 1;

  constructor(private readonly timeoutMs: () => number) {}

  /** Keeps `p` until the connection is up. */
  wait(p: Pending): void {
    this.queue.push(p);
  }

  /** Gives `p` an id and hands its frame to `write`; it fails with `unavailable` if no reply comes in time. */
  send(p: Pending, write: (text: string) => void): void {
    const id = this.nextId++;
    this.inflight.set(id, p);
    const timeout = this.timeoutMs();
    p.timer = setTimeout(() => {
      if (this.inflight.get(id) !== p) return;
      this.inflight.delete(id);
      p.reject(new SwitchboardError("unavailable", `no reply to ${p.type} within ${timeout} ms; retry`));
    }, timeout);
    write(JSON.stringify({ ...p.fields, type: p.type, id }));
  }

  /** Settles the request a reply answers; false when no request waits for that id. */
  settle(id: number | null, outcome: { ok: true; result: unknown } | { ok: false; error: SwitchboardError }): boolean {
    const p = id === null ? undefined : this.inflight.get(id);
    if (p === undefined || id === null) return false;
    this.inflight.delete(id);
    if (p.timer !== undefined) clearTimeout(p.timer);
    if (outcome.ok) p.resolve(outcome.result as never);
    else p.reject(outcome.error);
    return true;
  }

  /** The connection is gone: requests that may be retried wait for the next one, the others fail. */
  connectionLost(): void {
    for (const [id, p] of this.inflight) {
      this.inflight.delete(id);
      if (p.timer !== undefined) clearTimeout(p.timer);
      if (p.retry) this.queue.push(p);
      else p.reject(new SwitchboardError("unavailable", `connection lost before the reply to ${p.type}; retry`));
    }
  }

  /** The requests that waited for a connection, in order; the queue is empty after. */
  takeQueued(): Pending[] {
    const queued = this.queue;
    this.queue = [];
    return queued;
  }

  /** Fails every pending request with `err`. */
  failAll(err: unknown): void {
    for (const p of this.inflight.values()) {
      if (p.timer !== undefined) clearTimeout(p.timer);
      p.reject(err);
    }
    this.inflight.clear();
    for (const p of this.takeQueued()) p.reject(err);
  }
}
