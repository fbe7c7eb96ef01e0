/**
 * The history NATS endpoint gateways use for resume and socket `history` requests: `sb.hist.<app>` in the
 * `history` queue group (any number of history processes share it). The body is `{room, …parseHistoryQuery's
 * fields}` plus `withLast: true` for the room's last offset; the reply is `{messages, next}` (and `last`) or
 * `{error: {code, message}}`, with the same codes and messages as the socket and HTTP entry points.
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { SwitchboardError, isValidRoom, parseHistoryQuery } from "@switchboard/protocol";
import { QUEUE_HISTORY, Subjects, type Logger } from "@switchboard/core";
import { countedRead, type HistoryMetrics } from "./metrics.js";
import { pageJson } from "./pagejson.js";
import { readQuery, type ReadQuery } from "./pager.js";
import type { Reader } from "./reader.js";

/** The gateway's request body as a read: `{room, …the fields of parseHistoryQuery}`; other fields are the endpoint's. */
export function natsQuery(app: string, r: Readonly<Record<string, unknown>>): ReadQuery {
  if (!isValidRoom(r["room"])) throw new SwitchboardError("invalid_room", "room is invalid");
  return readQuery(app, r["room"], parseHistoryQuery(r));
}

/** The request body as an object; throws `bad_request` for anything else. */
function bodyOf(json: () => unknown): Readonly<Record<string, unknown>> {
  let body: unknown;
  try {
    body = json();
  } catch {
    body = undefined;
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new SwitchboardError("bad_request", "request body is not a JSON object");
  return body as Record<string, unknown>;
}

export function serveHistoryRequests(nc: NatsConnection, reader: Reader, metrics: HistoryMetrics, log: Logger): Subscription {
  const sub = nc.subscribe(Subjects.historyAll, { queue: QUEUE_HISTORY });
  void (async () => {
    for await (const m of sub) {
      const app = m.subject.slice(m.subject.lastIndexOf(".") + 1);
      void (async () => {
        try {
          const r = bodyOf(() => m.json());
          const q = natsQuery(app, r);
          const page = await countedRead(metrics, "nats", () => reader.read(q));
          const last = r["withLast"] === true ? await reader.lastOffset(app, q.room) : undefined;
          m.respond(pageJson(page, last));
        } catch (err) {
          const e =
            err instanceof SwitchboardError
              ? err
              : new SwitchboardError("unavailable", "history could not read JetStream; retry", { cause: err });
          if (e.code === "unavailable") log.warn({ err }, "history request failed");
          m.respond(JSON.stringify({ error: e.toJSON() }));
        }
      })();
    }
  })();
  return sub;
}
