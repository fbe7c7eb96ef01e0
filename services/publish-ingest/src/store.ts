/**
 * Storing one message in the rooms stream. Resolves with `{id, offset}` only once JetStream acknowledged the store;
 * every failure to store (timeout, no responders, disconnected, no quorum) becomes `unavailable` (503, Retry-After),
 * so no caller can answer 2xx for a message that is not stored. This is the ingest hot path.
 */
import { messageIdFromOffset, unavailable, type PublishResult } from "@switchboard/protocol";
import {
  STREAM_ROOMS,
  SpanKind,
  Subjects,
  encodeBody,
  endSpan,
  startSpan,
  storeFailureMessage,
  traceparentOf as traceparentOfSpan,
  type Span,
} from "@switchboard/core";
import type { IngestOptions } from "./deps.js";

/** How long a publish waits for the JetStream acknowledgement before answering 503. */
export const STORE_TIMEOUT_MS = 2000;

/** What storing needs of the app's options. */
export type StoreContext = Pick<IngestOptions, "nats" | "metrics">;

export interface StoreRequest {
  app: string;
  room: string;
  event: string;
  /** `data` already encoded by encodeData (so size errors surface before anything is sent). */
  dataJson: string;
  clientId?: string | undefined;
  idempotencyKey?: string | undefined;
  traceparent?: string | undefined;
  /** The HTTP request's span when tracing is on: the JetStream publish span is its child. */
  parent?: Span | undefined;
}

const TRACEPARENT_RE = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The W3C traceparent header when well formed, else undefined (a malformed one is dropped, not an error). */
export function traceparentOf(value: string | string[] | undefined): string | undefined {
  return typeof value === "string" && TRACEPARENT_RE.test(value) ? value : undefined;
}

/** Stores one message; resolves with its id and offset once stored, rejects with `unavailable` otherwise. */
export async function storeMessage(ctx: StoreContext, req: StoreRequest): Promise<PublishResult> {
  const { publisher } = ctx.nats.get();
  const body = encodeBody({
    event: req.event,
    dataJson: req.dataJson,
    timestamp: Date.now(),
    ...(req.clientId !== undefined ? { clientId: req.clientId } : {}),
  });
  const subject = Subjects.room(req.app, req.room);
  // Tracing on: the publish span's traceparent goes into the NATS headers (the gateways' fan-out spans are its
  // children). Off: the caller's traceparent, if any, is stored as it came.
  const span = req.parent !== undefined ? publishSpan(req, subject) : undefined;
  const started = performance.now();
  try {
    const ack = await publisher.publish(subject, body, {
      msgID: req.idempotencyKey !== undefined ? `${req.app}:${req.idempotencyKey}` : undefined,
      traceparent: span !== undefined ? traceparentOfSpan(span) : req.traceparent,
    });
    ctx.metrics.storeLatency.observe((performance.now() - started) / 1000);
    ctx.metrics.published.labels(ack.duplicate ? "duplicate" : "stored").inc();
    if (span !== undefined) {
      span.setAttribute("switchboard.offset", ack.seq);
      span.setAttribute("switchboard.duplicate", ack.duplicate);
      endSpan(span);
    }
    return { id: messageIdFromOffset(ack.seq), offset: ack.seq };
  } catch (err) {
    endSpan(span, err);
    ctx.metrics.published.labels("failed").inc();
    throw unavailable(storeFailureMessage(err), err);
  }
}

/** The JetStream publish span (producer), a child of the HTTP request's span. */
function publishSpan(req: StoreRequest, subject: string): Span | undefined {
  return startSpan(`publish ${STREAM_ROOMS}`, SpanKind.PRODUCER, req.parent, {
    "messaging.system": "nats",
    "messaging.operation.type": "send",
    "messaging.destination.name": subject,
    "switchboard.app": req.app,
    "switchboard.room": req.room,
    "switchboard.event": req.event,
  });
}
