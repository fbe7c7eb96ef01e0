/**
 * Recognising NATS and JetStream failures by nats.js v3's own error classes and the JetStream API error codes, never
 * by the text of a message (which nats.js and nats-server may reword in any release).
 *
 * What each failure is on nats-server 2.9.10 with nats.js 3.x (test/nats-errors.test.ts checks every line against
 * a real server):
 * - a request nobody subscribes to: `nc.request` rejects with a `RequestError` whose cause is a
 *   `NoRespondersError` (`isNoResponders()` says so); `nc.requestMany` throws the `NoRespondersError` itself;
 * - a request not answered in time: `TimeoutError` (a direct get on a stream without `allow_direct` is one too);
 * - a JetStream API refusal: `JetStreamApiError` with the server's code (`StreamNotFoundError` and
 *   `ConsumerNotFoundError` are its subclasses): a missing stream is 10059, a missing consumer 10014, a KV update or
 *   create against a revision that moved is 10071, and a message delete of a sequence that is gone is 10057;
 * - anything on a closed connection: `ClosedConnectionError`.
 *
 * `instanceof` relies on one copy of @nats-io/nats-core and @nats-io/jetstream in node_modules (npm dedupes them;
 * every workspace asks for the same ^3 range).
 */
import { errors } from "@nats-io/nats-core";
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";

/**
 * The JetStream API error codes Switchboard acts on: nats.js's `JetStreamApiCodes` plus the ones it does not name
 * (from nats-server's errors.json).
 */
export const JsApiCode = {
  ...JetStreamApiCodes,
  /** JSStreamMsgDeleteFailedF: a message delete failed; for a sequence already deleted or past the end of the stream. */
  StreamMsgDeleteFailed: 10057,
  /** JSInsufficientResourcesErr: the server (or account) has no storage left; a publish is refused with it. */
  InsufficientResources: 10023,
} as const;
export type JsApiCode = (typeof JsApiCode)[keyof typeof JsApiCode];

/** The JetStream API error code of `err`, or undefined when it is not a JetStream API refusal. */
export function jsApiCode(err: unknown): number | undefined {
  return err instanceof JetStreamApiError ? err.code : undefined;
}

/** Whether `err` is the JetStream API refusing with `code`. */
export function isJsApiError(err: unknown, code: JsApiCode): boolean {
  return jsApiCode(err) === code;
}

/** No subscriber for the subject of a request (as `nc.request` or `nc.requestMany` reports it). */
export function isNoResponders(err: unknown): boolean {
  return err instanceof errors.NoRespondersError || (err instanceof errors.RequestError && err.isNoResponders());
}

/** A request that got no answer in time. */
export function isTimeout(err: unknown): boolean {
  return err instanceof errors.TimeoutError;
}

/** The stream does not exist. */
export function isStreamNotFound(err: unknown): boolean {
  return isJsApiError(err, JsApiCode.StreamNotFound);
}

/** A write expecting a last sequence (a KV update at a revision, a KV create) found another one: it changed meanwhile. */
export function isWrongLastSequence(err: unknown): boolean {
  return isJsApiError(err, JsApiCode.StreamWrongLastSequence);
}
