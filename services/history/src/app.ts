/**
 * history's HTTP routes (docs/PROTOCOL.md; the contract's section on history): a room's messages, presence and
 * occupancy, and the app's active rooms. Auth is callers.ts's: an API key reads its app's rooms, a token the rooms
 * where it has `history` (presence also accepts `presence`, occupancy also `metrics`).
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Registry } from "prom-client";
import { Type, type Static } from "@sinclair/typebox";
import {
  HISTORY_CURSOR_MAX,
  HISTORY_LIMIT_DEFAULT,
  HISTORY_LIMIT_MAX,
  assertRoom,
  parseHistoryQuery,
  type Capability,
} from "@switchboard/protocol";
import type { Logger } from "@switchboard/core";
import { RoomParams, authorizationOf, createHttpService } from "@switchboard/http";
import { appReading, type Caller } from "./callers.js";
import type { HistoryDeps, HistoryOptions } from "./deps.js";
import { countedRead } from "./metrics.js";
import { pageJson } from "./pagejson.js";
import { readQuery } from "./pager.js";

const offsetOrTime = (description: string) => Type.Optional(Type.String({ pattern: "^[0-9]{1,16}$", description }));
/** What parseHistoryQuery reads from the query string (source "url"), for the OpenAPI document. */
const HistoryQuerystring = Type.Object(
  {
    limit: Type.Optional(
      Type.String({
        pattern: "^[0-9]{1,3}$",
        description: `messages in the page, 1 to ${HISTORY_LIMIT_MAX} (default ${HISTORY_LIMIT_DEFAULT})`,
      }),
    ),
    direction: Type.Optional(
      Type.Union([Type.Literal("backwards"), Type.Literal("forwards")], { description: "newest first (default) or oldest first" }),
    ),
    before: offsetOrTime("only messages with an offset below this (at least 1)"),
    after: offsetOrTime("only messages with an offset above this"),
    start: offsetOrTime("only messages stored at or after this time, epoch ms"),
    end: offsetOrTime("only messages stored at or before this time, epoch ms"),
    next: Type.Optional(Type.String({ maxLength: HISTORY_CURSOR_MAX, description: "a page's next cursor, passed back unchanged" })),
  },
  { additionalProperties: false },
);

const RoomsQuery = Type.Object({ prefix: Type.Optional(Type.String({ maxLength: 128 })) }, { additionalProperties: false });

/** The history HTTP app: the shared shell (libs/http) with history's routes. main.ts listens on it; route tests inject(). */
export async function buildHistoryApp(
  opts: HistoryOptions,
  http: { service: string; registry: Registry; log: Logger },
): Promise<FastifyInstance> {
  const app = createHttpService({ ...http, ready: () => opts.nats.ready() });
  await app.register(historyRoutes, opts);
  return app;
}

function callerOf(deps: HistoryDeps, req: FastifyRequest): Promise<Caller> {
  return deps.callers.of(authorizationOf(req));
}

/** The app whose room is read, from an API key of that app or a token with one of `caps` on the room. */
async function appFor(deps: HistoryDeps, req: FastifyRequest, room: string, caps: readonly Capability[]): Promise<string> {
  return appReading(await callerOf(deps, req), room, caps);
}

export async function historyRoutes(app: FastifyInstance, opts: HistoryOptions): Promise<void> {
  const { metrics } = opts;

  // The query string is read by parseHistoryQuery (the socket request and the NATS endpoint use it too), not a schema:
  // its schema is only documented.
  app.get<{ Params: RoomParams; Querystring: Record<string, unknown> }>(
    "/v1/rooms/:room/messages",
    { schema: { params: RoomParams, documentedQuerystring: HistoryQuerystring } },
    async (req, reply) => {
      const room = assertRoom(req.params.room);
      const fields = parseHistoryQuery(req.query, { source: "url", exact: true });
      const deps = opts.nats.get();
      const query = readQuery(await appFor(deps, req, room, ["history"]), room, fields);
      const page = await countedRead(metrics, "http", () => deps.reader.read(query));
      // The JSON text as fastify would serialize the page (a cached page's messages are already JSON).
      void reply.type("application/json; charset=utf-8");
      return pageJson(page);
    },
  );

  app.get<{ Params: RoomParams }>("/v1/rooms/:room/presence", { schema: { params: RoomParams } }, async (req) => {
    const room = assertRoom(req.params.room);
    const deps = opts.nats.get();
    const appId = await appFor(deps, req, room, ["history", "presence"]);
    return { members: await countedRead(metrics, "http", () => deps.roomState.presence(appId, room)) };
  });

  app.get<{ Params: RoomParams }>("/v1/rooms/:room/occupancy", { schema: { params: RoomParams } }, async (req) => {
    const room = assertRoom(req.params.room);
    const deps = opts.nats.get();
    const appId = await appFor(deps, req, room, ["history", "metrics"]);
    return countedRead(metrics, "http", () => deps.roomState.occupancy(appId, room));
  });

  app.get<{ Querystring: Static<typeof RoomsQuery> }>("/v1/rooms", { schema: { querystring: RoomsQuery } }, async (req) => {
    const deps = opts.nats.get();
    const caller = await callerOf(deps, req);
    const rooms = await countedRead(metrics, "http", async () =>
      deps.roomState.rooms(caller.appId, req.query.prefix ?? "", (await deps.retention.effective(caller.appId)).maxMessagesPerRoom),
    );
    const p = caller.permissions;
    return { rooms: p === undefined ? rooms : rooms.filter((r) => p.can(r.room, "history")) };
  });
}
