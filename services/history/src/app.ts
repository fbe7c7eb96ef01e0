/**
 * history routes (DESIGN §7) and the NATS request/reply endpoint gateways use for resume.
 *
 * Auth: an API key of an app reads that app's rooms; a token (Bearer JWT) reads the rooms where it has `history`
 * (presence also accepts `presence`, occupancy also `metrics`). The app is always the key's or the token's, so
 * nobody reads another app's data.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type, type Static } from "@sinclair/typebox";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import {
  HISTORY_LIMIT_MAX,
  SwitchboardError,
  assertRoom,
  isValidRoom,
  type Capability,
  type EffectivePermissions,
} from "@switchboard/protocol";
import {
  QUEUE_HISTORY,
  Subjects,
  verifyToken,
  type KeyRegistry,
  type Logger,
  type NatsRuntime,
  type RevocationRegistry,
} from "@switchboard/core";
import { authorizationOf } from "@switchboard/http";
import type { HistoryMetrics } from "./metrics.js";
import { pageJson } from "./pagejson.js";
import type { ReadQuery } from "./pager.js";
import { applyCursor, type Direction, type Reader } from "./reader.js";
import type { RetentionPolicy } from "./retention.js";
import type { RoomState } from "./roomstate.js";

export interface HistoryDeps {
  reader: Reader;
  roomState: RoomState;
  retention: RetentionPolicy;
  keys: KeyRegistry;
  revocations: RevocationRegistry;
}

export interface HistoryOptions {
  nats: NatsRuntime<HistoryDeps>;
  metrics: HistoryMetrics;
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
const RoomsQuery = Type.Object({ prefix: Type.Optional(Type.String({ maxLength: 128 })) }, { additionalProperties: false });

export const DEFAULT_LIMIT = 100;

interface Caller {
  appId: string;
  /** Undefined for an API key (every room of its app). */
  permissions: EffectivePermissions | undefined;
}

async function callerOf(req: FastifyRequest, deps: HistoryDeps): Promise<Caller> {
  const header = authorizationOf(req);
  const bearer = header?.startsWith("Bearer ") ? header.slice(7).trim() : undefined;
  if (bearer !== undefined && !bearer.includes(":")) {
    const v = await verifyToken(bearer, { keys: deps.keys, revocations: deps.revocations });
    return { appId: v.key.appId, permissions: v.permissions };
  }
  return { appId: (await deps.keys.authenticate(header)).appId, permissions: undefined };
}

/** The app whose room is read: from an API key of that app, or from a token carrying one of `caps` on the room. */
async function appFor(req: FastifyRequest, deps: HistoryDeps, room: string, caps: readonly Capability[]): Promise<string> {
  const c = await callerOf(req, deps);
  if (c.permissions !== undefined && !caps.some((cap) => c.permissions!.can(room, cap)))
    throw new SwitchboardError("unauthorized", `token lacks the ${caps.join(" or ")} capability on room ${room}`, { status: 403 });
  return c.appId;
}

/** A read over both transports: counts the request and maps unexpected failures to `unavailable` (retry). */
async function counted<T>(metrics: HistoryOptions["metrics"], source: "http" | "nats", work: () => Promise<T>): Promise<T> {
  try {
    const out = await work();
    metrics.requests.inc({ source, result: "ok" });
    return out;
  } catch (err) {
    metrics.requests.inc({ source, result: "error" });
    if (err instanceof SwitchboardError) throw err;
    throw new SwitchboardError("unavailable", "JetStream could not be read; retry", { retryAfter: 1, cause: err });
  }
}

export async function historyRoutes(app: FastifyInstance, opts: HistoryOptions): Promise<void> {
  const { metrics } = opts;

  app.get<{ Params: Static<typeof RoomParams>; Querystring: MessagesQuery }>(
    "/v1/rooms/:room/messages",
    { schema: { params: RoomParams, querystring: MessagesQuery } },
    async (req, reply) => {
      const room = assertRoom(req.params.room);
      const deps = opts.nats.get();
      const appId = await appFor(req, deps, room, ["history"]);
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
      const page = await counted(metrics, "http", () => deps.reader.read(query));
      // The JSON text as fastify would serialize the page (a cached page's messages are already JSON).
      void reply.type("application/json; charset=utf-8");
      return pageJson(page);
    },
  );

  app.get<{ Params: Static<typeof RoomParams> }>("/v1/rooms/:room/presence", { schema: { params: RoomParams } }, async (req) => {
    const room = assertRoom(req.params.room);
    const deps = opts.nats.get();
    const appId = await appFor(req, deps, room, ["history", "presence"]);
    return { members: await counted(metrics, "http", () => deps.roomState.presence(appId, room)) };
  });

  app.get<{ Params: Static<typeof RoomParams> }>("/v1/rooms/:room/occupancy", { schema: { params: RoomParams } }, async (req) => {
    const room = assertRoom(req.params.room);
    const deps = opts.nats.get();
    const appId = await appFor(req, deps, room, ["history", "metrics"]);
    return counted(metrics, "http", () => deps.roomState.occupancy(appId, room));
  });

  app.get<{ Querystring: Static<typeof RoomsQuery> }>("/v1/rooms", { schema: { querystring: RoomsQuery } }, async (req) => {
    const deps = opts.nats.get();
    const caller = await callerOf(req, deps);
    const rooms = await counted(metrics, "http", async () =>
      deps.roomState.rooms(caller.appId, req.query.prefix ?? "", (await deps.retention.effective(caller.appId)).maxMessagesPerRoom),
    );
    const p = caller.permissions;
    return { rooms: p === undefined ? rooms : rooms.filter((r) => p.can(r.room, "history")) };
  });
}

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : undefined);

/** The gateway's request body as a read: `{room, limit?, direction?, before?, after?, start?, end?, next?}`. */
export function natsQuery(app: string, r: Record<string, unknown>): ReadQuery {
  if (!isValidRoom(r["room"])) throw new SwitchboardError("invalid_room", "room is invalid");
  const limit = r["limit"] === undefined ? DEFAULT_LIMIT : r["limit"];
  if (typeof limit !== "number") throw new SwitchboardError("bad_request", `limit must be an integer from 1 to ${HISTORY_LIMIT_MAX}`);
  const direction: Direction = r["direction"] === "forwards" ? "forwards" : "backwards";
  const q: ReadQuery = {
    app,
    room: r["room"],
    limit,
    direction,
    before: num(r["before"]),
    after: num(r["after"]),
    start: num(r["start"]),
    end: num(r["end"]),
  };
  return typeof r["next"] === "string" ? applyCursor(q, r["next"]) : q;
}

/**
 * Serves `sb.hist.<app>` requests in the `history` queue group (any number of history processes share them):
 * the body is natsQuery's, plus `withLast: true` to get the room's last offset; the reply is `{messages, next}`
 * (and `last`) or `{error: {code, message}}`.
 */
export function serveHistoryRequests(nc: NatsConnection, reader: Reader, metrics: HistoryOptions["metrics"], log: Logger): Subscription {
  const sub = nc.subscribe(Subjects.historyAll, { queue: QUEUE_HISTORY });
  void (async () => {
    for await (const m of sub) {
      const app = m.subject.slice(m.subject.lastIndexOf(".") + 1);
      void (async () => {
        try {
          const r = m.json<Record<string, unknown>>();
          const q = natsQuery(app, r);
          const page = await counted(metrics, "nats", () => reader.read(q));
          const last = r["withLast"] === true ? await reader.lastOffset(app, q.room) : undefined;
          m.respond(pageJson(page, last));
        } catch (err) {
          const e =
            err instanceof SwitchboardError
              ? err
              : err instanceof SyntaxError
                ? new SwitchboardError("bad_request", "request body is not a JSON object")
                : new SwitchboardError("unavailable", "history could not read JetStream; retry", { cause: err });
          if (e.code === "unavailable") log.warn({ err }, "history request failed");
          m.respond(JSON.stringify({ error: e.toJSON() }));
        }
      })();
    }
  })();
  return sub;
}
