/**
 * The JetStream publisher of the publish hot paths (publish-ingest, gateway client publish). Semantically `js.publish` (a publish with a reply subject, answered by
 * a PubAck once the stream stored the message), built for throughput:
 * - one wildcard reply subscription instead of a request object, timer and Error per message (nats.js's request
 *   path allocated all three and dominated the CPU profile);
 * - publishes queued during one event-loop turn go out in one drain (setImmediate), so many HTTP requests share
 *   one socket write to nats-server instead of one write each;
 * - one sweep per 100 ms times out unanswered publishes; a disconnect fails everything pending at once, and while
 *   disconnected a publish is refused at once instead of waiting in the client's reconnect buffer (where it could
 *   be stored long after its caller was told 503).
 * Every failure rejects, so the caller answers 503; a PubAck is the only way to resolve.
 */
import {
  createInbox,
  headers as natsHeaders,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from "@nats-io/transport-node";
import { HEADER_MSG_ID, HEADER_TRACEPARENT } from "./envelope.js";
import { JsApiCode } from "./natserrors.js";

export interface PublishAck {
  seq: number;
  duplicate: boolean;
}

export interface AckPublishOptions {
  msgID?: string | undefined;
  traceparent?: string | undefined;
}

export interface AckPublisher {
  publish(subject: string, body: string, opts: AckPublishOptions): Promise<PublishAck>;
  /** Rejects everything pending and stops the reply subscription. */
  close(): void;
}

export class StoreError extends Error {
  override readonly name = "StoreError";
  constructor(
    message: string,
    /** The JetStream API error code of a refusal (natserrors.ts JsApiCode), when JetStream gave one. */
    readonly apiCode?: number,
  ) {
    super(message);
  }
}

/** What a caller is told when a publish was not stored: why, when the reason is one an operator must act on. */
export function storeFailureMessage(err: unknown): string {
  if (err instanceof StoreError && err.apiCode === JsApiCode.InsufficientResources)
    return "JetStream is out of storage: the message was not stored; retry later";
  return "JetStream could not store the message; retry";
}

interface Pending {
  resolve: (ack: PublishAck) => void;
  reject: (err: Error) => void;
  deadline: number;
}

interface Queued {
  subject: string;
  body: string;
  headers: MsgHdrs | undefined;
  token: string;
}

const SWEEP_MS = 100;

export function createAckPublisher(nc: NatsConnection, opts: { timeoutMs: number; stream: string }): AckPublisher {
  const prefix = createInbox();
  const pending = new Map<string, Pending>();
  let queue: Queued[] = [];
  let scheduled = false;
  let next = 0;
  let closed = false;

  const settle = (token: string, err: Error | undefined, ack?: PublishAck) => {
    const p = pending.get(token);
    if (p === undefined) return; // answered after its timeout: the caller already got a 503
    pending.delete(token);
    if (err !== undefined) p.reject(err);
    else p.resolve(ack as PublishAck);
  };

  const onReply = (err: Error | null, msg: Msg): void => {
    if (err !== null) return;
    const token = msg.subject.slice(prefix.length + 1);
    if (msg.headers?.hasError === true) return settle(token, new StoreError(`no JetStream responder (${msg.headers.code})`));
    let r: { stream?: string; seq?: number; duplicate?: boolean; error?: { description?: string; code?: number; err_code?: number } };
    try {
      r = msg.json();
    } catch {
      return settle(token, new StoreError("unreadable PubAck"));
    }
    if (r.error !== undefined || typeof r.seq !== "number" || r.stream !== opts.stream)
      return settle(
        token,
        new StoreError(`JetStream refused the message: ${r.error?.description ?? "no sequence in PubAck"}`, r.error?.err_code),
      );
    settle(token, undefined, { seq: r.seq, duplicate: r.duplicate === true });
  };
  const sub: Subscription = nc.subscribe(`${prefix}.*`, { callback: onReply });

  const drain = () => {
    scheduled = false;
    const batch = queue;
    queue = [];
    for (const q of batch) {
      if (!pending.has(q.token)) continue; // timed out or failed while queued
      try {
        nc.publish(
          q.subject,
          q.body,
          q.headers !== undefined ? { reply: `${prefix}.${q.token}`, headers: q.headers } : { reply: `${prefix}.${q.token}` },
        );
      } catch (err) {
        settle(q.token, err instanceof Error ? err : new StoreError(String(err)));
      }
    }
  };

  const failAll = (reason: string) => {
    const err = new StoreError(reason);
    for (const token of [...pending.keys()]) settle(token, err);
  };

  // Pending entries are in deadline order (one timeout for all), so the sweep stops at the first live one.
  const sweeper = setInterval(() => {
    const now = performance.now();
    for (const [token, p] of pending) {
      if (p.deadline > now) break;
      settle(token, new StoreError(`no PubAck within ${opts.timeoutMs} ms`));
    }
  }, SWEEP_MS);
  sweeper.unref();

  let connected = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") {
        connected = false;
        failAll("disconnected from NATS");
      } else if (s.type === "reconnect") connected = true;
    }
  })().catch(() => undefined);

  return {
    publish(subject, body, o) {
      if (closed || nc.isClosed()) return Promise.reject(new StoreError("NATS connection is closed"));
      if (!connected) return Promise.reject(new StoreError("disconnected from NATS"));
      let headers: MsgHdrs | undefined;
      if (o.msgID !== undefined || o.traceparent !== undefined) {
        headers = natsHeaders();
        if (o.msgID !== undefined) headers.set(HEADER_MSG_ID, o.msgID);
        if (o.traceparent !== undefined) headers.set(HEADER_TRACEPARENT, o.traceparent);
      }
      const token = (next++).toString(36);
      return new Promise<PublishAck>((resolve, reject) => {
        pending.set(token, { resolve, reject, deadline: performance.now() + opts.timeoutMs });
        queue.push({ subject, body, headers, token });
        if (!scheduled) {
          scheduled = true;
          setImmediate(drain);
        }
      });
    },
    close() {
      closed = true;
      clearInterval(sweeper);
      failAll("publisher closed");
      sub.unsubscribe();
    },
  };
}
