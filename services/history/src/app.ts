/**
 * history routes (DESIGN §7) and the NATS request/reply endpoint gateways use for resume.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { HISTORY_LIMIT_MAX, SwitchboardError, assertRoom, isValidRoom, type Capability } from "@switchboard/protocol";
import {
  QUEUE_HISTORY,
  Subjects,
  verifyToken,
  type KeyRegistry,
  type Logger,
  type NatsRuntime,
  type RevocationRegistry,
  type historyMetrics,
} from "@switchboard/core";
import { authorizationOf } from "@switchboard/http";
import { applyCursor, type ReadQuery, type Reader } from "./reader.js";

export interface HistoryDeps {
  reader: Reader;
  keys: KeyRegistry;
  revocations: RevocationRegistry;
}

export interface HistoryOptions {
  nats: NatsRuntime<HistoryDeps>;
  metrics: ReturnType<typeof historyMetrics>;
}

const RoomParams = Type.Object({ room: Type.String({ minLength: 1, maxLength: 1024 }) });
const MessagesQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: HISTORY_LIMIT_MAX })),
    direction: Type.Optional(Type.Union([Type.Literal("backwards"), Type.Literal("forwards")])),
    before: Type.Optional(Type.Integer({ minimum: 1 })),
    after: Type.Optional(Type.Integer({ minimum: 0 })),
    start: Type.Optional(Type.Integer({ minimum: 0 })),
    end: Type.Optional(Type.Integer({ minimum: 0 })),
    next: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);
type MessagesQuery = Static<typeof MessagesQuery>;

export const DEFAULT_LIMIT = 100;

/**
 * The app whose room is read: from an API key of that app, or from a token carrying `cap` on the room.
 */
async function appFor(req: FastifyRequest, deps: HistoryDeps, room: string, cap: Capability): Promise<string> {
  const header = authorizationOf(req);
  const bearer = header?.startsWith("Bearer ") ? header.slice(7).trim() : undefined;
  if (bearer !== undefined && !bearer.includes(":")) {
    const v = await verifyToken(bearer, { keys: deps.keys, revocations: deps.revocations });
    if (!v.permissions.can(room, cap))
      throw new SwitchboardError("unauthorized", `token lacks the ${cap} capability on room ${room}`, { status: 403 });
    return v.key.appId;
  }
  return (await deps.keys.authenticate(header)).appId;
}

export async function historyRoutes(app: FastifyInstance, opts: HistoryOptions): Promise<void> {
  app.get<{ Params: Static<typeof RoomParams>; Querystring: MessagesQuery }>(
    "/v1/rooms/:room/messages",
    { schema: { params: RoomParams, querystring: MessagesQuery } },
    async (req) => {
      const room = assertRoom(req.params.room);
      const deps = opts.nats.get();
      const appId = await appFor(req, deps, room, "history");
      const q = req.query;
      let query: ReadQuery = {
        app: appId,
        room,
        limit: q.limit ?? DEFAULT_LIMIT,
        direction: q.direction ?? "backwards",
        before: q.before,
        after: q.after,
        start: q.start,
        end: q.end,
      };
      if (q.next !== undefined) query = applyCursor(query, q.next);
      try {
        const page = await deps.reader.read(query);
        opts.metrics.requests.inc({ source: "http", result: "ok" });
        return page;
      } catch (err) {
        opts.metrics.requests.inc({ source: "http", result: "error" });
        if (err instanceof SwitchboardError) throw err;
        throw new SwitchboardError("unavailable", "JetStream could not be read; retry", { retryAfter: 1, cause: err });
      }
    },
  );
}

/** Serves `sb.hist.<app>` requests `{room, limit?, direction?, before?, after?, next?}` in the `history` queue group. */
export function serveHistoryRequests(nc: NatsConnection, reader: Reader, metrics: HistoryOptions["metrics"], log: Logger): Subscription {
  const sub = nc.subscribe(Subjects.historyAll, { queue: QUEUE_HISTORY });
  void (async () => {
    for await (const m of sub) {
      const app = m.subject.slice(m.subject.lastIndexOf(".") + 1);
      void (async () => {
        try {
          const r = m.json<Record<string, unknown>>();
          if (!isValidRoom(r["room"])) throw new SwitchboardError("invalid_room", "room is invalid");
          let q: ReadQuery = {
            app,
            room: r["room"],
            limit: typeof r["limit"] === "number" ? r["limit"] : DEFAULT_LIMIT,
            direction: r["direction"] === "forwards" ? "forwards" : "backwards",
            before: typeof r["before"] === "number" ? r["before"] : undefined,
            after: typeof r["after"] === "number" ? r["after"] : undefined,
            start: typeof r["start"] === "number" ? r["start"] : undefined,
            end: typeof r["end"] === "number" ? r["end"] : undefined,
          };
          if (typeof r["next"] === "string") q = applyCursor(q, r["next"]);
          const page = await reader.read(q);
          const last = r["withLast"] === true ? await reader.lastOffset(app, q.room) : undefined;
          metrics.requests.inc({ source: "nats", result: "ok" });
          m.respond(JSON.stringify(last === undefined ? page : { ...page, last }));
        } catch (err) {
          metrics.requests.inc({ source: "nats", result: "error" });
          const e =
            err instanceof SwitchboardError ? err : new SwitchboardError("unavailable", "history read failed; retry", { cause: err });
          if (e.code === "unavailable") log.warn({ err }, "history request failed");
          m.respond(JSON.stringify({ error: e.toJSON() }));
        }
      })();
    }
  })();
  return sub;
}
