/**
 * Storing one message in the rooms stream. Resolves with `{id, offset}` only once JetStream acknowledged the store;
 * every failure to store (timeout, no responders, disconnected, no quorum) becomes `unavailable` (503, Retry-After),
 * so no caller can answer 2xx for a message that is not stored. This is the ingest hot path.
 */
import { SwitchboardError, messageIdFromOffset, type PublishResult } from "@switchboard/protocol";
import { Subjects, encodeBody } from "@switchboard/core";
import type { IngestOptions } from "./deps.js";

/** How long a publish waits for the JetStream acknowledgement before answering 503. */
export const STORE_TIMEOUT_MS = 2000;
/** Seconds a client should wait before retrying after a 503. */
export const RETRY_AFTER_S = 1;

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
}

const TRACEPARENT_RE = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The W3C traceparent header when well formed, else undefined (a malformed one is dropped, not an error). */
export function traceparentOf(value: string | string[] | undefined): string | undefined {
  return typeof value === "string" && TRACEPARENT_RE.test(value) ? value : undefined;
}

/** A 503 with Retry-After: NATS or JetStream could not do what was asked. */
export function unavailable(message: string, cause?: unknown): SwitchboardError {
  return new SwitchboardError("unavailable", message, { retryAfter: RETRY_AFTER_S, cause });
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
  const started = performance.now();
  try {
    const ack = await publisher.publish(Subjects.room(req.app, req.room), body, {
      msgID: req.idempotencyKey !== undefined ? `${req.app}:${req.idempotencyKey}` : undefined,
      traceparent: req.traceparent,
    });
    ctx.metrics.storeLatency.observe((performance.now() - started) / 1000);
    ctx.metrics.published.labels(ack.duplicate ? "duplicate" : "stored").inc();
    return { id: messageIdFromOffset(ack.seq), offset: ack.seq };
  } catch (err) {
    ctx.metrics.published.labels("failed").inc();
    throw unavailable("JetStream could not store the message; retry", err);
  }
}
