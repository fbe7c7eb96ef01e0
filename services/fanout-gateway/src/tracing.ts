/**
 * The gateway's fan-out span (docs/OPERATIONS.md, "Reading a trace"), only when tracing is on: one span per live
 * message per room on this gateway (never one per socket), a child of the `traceparent` that ingest's publish span
 * put into the message's NATS headers and JetStream's republish carried to this gateway.
 */
import type { Msg } from "@nats-io/transport-node";
import { HEADER_TRACEPARENT, SpanKind, endSpan, parseTraceparent, startSpan } from "@switchboard/core";

interface FanoutRoom {
  readonly app: string;
  readonly name: string;
  /** Local sockets subscribed to the room. */
  readonly subscribers: number;
}

/** Runs `deliver` (the room's handling of one live message) inside a fan-out span. */
export function traceFanout(room: FanoutRoom, msg: Msg, deliver: () => void): void {
  const h = msg.headers;
  const span = startSpan("fanout", SpanKind.CONSUMER, parseTraceparent(h?.get(HEADER_TRACEPARENT)), {
    "messaging.system": "nats",
    "messaging.operation.type": "process",
    "messaging.destination.name": msg.subject,
    "switchboard.app": room.app,
    "switchboard.room": room.name,
    "switchboard.offset": Number(h?.get("Nats-Sequence")),
    "switchboard.sockets": room.subscribers,
  });
  try {
    deliver();
    endSpan(span);
  } catch (err) {
    endSpan(span, err);
    throw err;
  }
}
