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
  SwitchboardError,
  assertRoom,
  isValidRoom,
  parseHistoryQuery,
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
import { RoomParams, authorizationOf } from "@switchboard/http";
import type { HistoryMetrics } from "./metrics.js";
import { pageJson } from "./pagejson.js";
import { readQuery, type ReadQuery } from "./pager.js";
import type { Reader } from "./reader.js";
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

const RoomsQuery = Type.Object({ prefix: Type.Optional(Type.String({ maxLength: 128 })) }, { additionalProperties: false });

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

  // The query string is read by parseHistoryQuery (the socket request and the NATS endpoint use it too), not a schema.
  app.get<{ Params: RoomParams; Querystring: Record<string, unknown> }>(
    "/v1/rooms/:room/messages",
    { schema: { params: RoomParams } },
    async (req, reply) => {
      const room = assertRoom(req.params.room);
      const fields = parseHistoryQuery(req.query, { source: "url", exact: true });
      const deps = opts.nats.get();
      const query = readQuery(await appFor(req, deps, room, ["history"]), room, fields);
      const page = await counted(metrics, "http", () => deps.reader.read(query));
      // The JSON text as fastify would serialize the page (a cached page's messages are already JSON).
      void reply.type("application/json; charset=utf-8");
      return pageJson(page);
    },
  );

  app.get<{ Params: RoomParams }>("/v1/rooms/:room/presence", { schema: { params: RoomParams } }, async (req) => {
    const room = assertRoom(req.params.room);
    const deps = opts.nats.get();
    const appId = await appFor(req, deps, room, ["history", "presence"]);
    return { members: await counted(metrics, "http", () => deps.roomState.presence(appId, room)) };
  });

  app.get<{ Params: RoomParams }>("/v1/rooms/:room/occupancy", { schema: { params: RoomParams } }, async (req) => {
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

/** The gateway's request body as a read: `{room, …the fields of parseHistoryQuery}`; other fields are the endpoint's. */
export function natsQuery(app: string, r: Record<string, unknown>): ReadQuery {
  if (!isValidRoom(r["room"])) throw new SwitchboardError("invalid_room", "room is invalid");
  return readQuery(app, r["room"], parseHistoryQuery(r));
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
          const body = m.json<unknown>();
          if (typeof body !== "object" || body === null || Array.isArray(body)) throw new SyntaxError("not an object");
          const r = body as Record<string, unknown>;
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
