/**
 * publish-ingest routes (docs/HTTP-API.md): single and batch publish, the Livestorm-compatible endpoint, and moderation.
 * A publish answers 2xx only after JetStream acknowledged the store; any failure to store is a 503 with
 * Retry-After. Order of checks on every publish: auth (401, in onRequest: a caller without a valid key gets 401
 * before its body is even read), body (400), room (400), key ceiling (403), data size (413), per-key rate (429),
 * store (503).
 */
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from "fastify";
import type { Registry } from "prom-client";
import {
  RETRY_AFTER_S,
  SwitchboardError,
  assertRoom,
  messageIdFromOffset,
  type Capability,
  type PublishResult,
} from "@switchboard/protocol";
import { HEADER_TRACEPARENT, MAX_DATA_BYTES, encodeData, tracingOn, type Logger, type ResolvedKey } from "@switchboard/core";
import { authorizationOf, createHttpService } from "@switchboard/http";
import { roomOfScope } from "./livestorm.js";
import type { IngestOptions } from "./deps.js";
import {
  BatchBody,
  DisconnectBody,
  IDEMPOTENCY_KEY_MAX,
  MessageParams,
  PubSubBody,
  PublishBody,
  RoomParams,
  checkBatchItem,
} from "./schemas.js";
import { storeMessage, traceparentOf, type StoreRequest } from "./store.js";
import { requestSpan, traceRequests } from "./tracing.js";

/** Room of one message plus its envelope and headers. */
const SINGLE_BODY_LIMIT = MAX_DATA_BYTES + 4096;
/** A batch body may hold up to 1000 messages; past this size the whole request is 413. */
export const BATCH_BODY_LIMIT = 16 * 1024 * 1024;

type ItemResult = PublishResult | { error: ReturnType<SwitchboardError["toJSON"]> };

declare module "fastify" {
  interface FastifyRequest {
    /** The caller's API key, set by the route's onRequest check (keyCheck). */
    apiKey: ResolvedKey | null;
  }
}

/** An onRequest hook: the API key is checked before the body is read or validated. */
function keyCheck(opts: IngestOptions, allowRaw = false): (req: FastifyRequest) => Promise<void> {
  return async (req) => {
    req.apiKey = await opts.nats.get().keys.authenticate(authorizationOf(req), { allowRaw });
  };
}

function keyOf(req: FastifyRequest): ResolvedKey {
  if (req.apiKey === null) throw new Error(`route ${req.routeOptions.url ?? req.url} has no keyCheck onRequest hook`);
  return req.apiKey;
}

/** Throws 403 when the key's permissions ceiling does not grant `cap` on `room`. */
function assertCeiling(key: ResolvedKey, room: string, cap: Capability): void {
  if (key.ceiling !== undefined && !key.ceiling.can(room, cap))
    throw new SwitchboardError("unauthorized", `API key ${key.kid} may not ${cap} in room ${JSON.stringify(room)}`, { status: 403 });
}

function idempotencyKeyOf(req: FastifyRequest, fromBody: string | undefined): string | undefined {
  if (fromBody !== undefined) return fromBody;
  const h = req.headers["idempotency-key"];
  return typeof h === "string" && h.length > 0 && h.length <= IDEMPOTENCY_KEY_MAX ? h : undefined;
}

/** A batch item's error entry: a SwitchboardError as the contract shows it, anything else as `internal`. */
function errorOf(err: unknown, log: FastifyBaseLogger): ItemResult {
  if (err instanceof SwitchboardError) return { error: err.toJSON() };
  log.error({ err }, "batch item failed");
  return { error: new SwitchboardError("internal", "internal error; the service logged it").toJSON() };
}

/** Re-throws a validation error of batch item `index` with the item's field in front of its message. */
function itemError(index: number, field: string, err: unknown): never {
  if (err instanceof SwitchboardError) throw new SwitchboardError(err.code, `messages[${index}].${field}: ${err.message}`);
  throw err;
}

/** The publish-ingest HTTP app: the shared shell (libs/http) with ingest's routes. main.ts listens on it; route tests inject(). */
export async function buildIngestApp(
  opts: IngestOptions,
  http: { service: string; registry: Registry; log: Logger },
): Promise<FastifyInstance> {
  const app = createHttpService({ ...http, ready: () => opts.nats.ready() });
  if (tracingOn()) traceRequests(app);
  await app.register(ingestRoutes, opts);
  return app;
}

export function ingestRoutes(app: FastifyInstance, opts: IngestOptions): Promise<void> {
  app.decorateRequest("apiKey", null);
  /** Single publish: the hot path. */
  app.post<{ Params: RoomParams; Body: PublishBody }>(
    "/v1/rooms/:room/messages",
    { schema: { params: RoomParams, body: PublishBody }, bodyLimit: SINGLE_BODY_LIMIT, onRequest: keyCheck(opts) },
    async (req, reply) => {
      const key = keyOf(req);
      const room = assertRoom(req.params.room);
      assertCeiling(key, room, "publish");
      const dataJson = encodeData(req.body.data);
      opts.limiter.take(key.kid, 1);
      const result = await storeMessage(opts, {
        app: key.appId,
        room,
        event: req.body.event,
        dataJson,
        clientId: req.body.clientId,
        idempotencyKey: idempotencyKeyOf(req, req.body.idempotencyKey),
        traceparent: traceparentOf(req.headers[HEADER_TRACEPARENT]),
        parent: requestSpan(req),
      });
      return reply.status(201).send(result);
    },
  );

  /** Batch publish: each item validated and stored on its own; results in request order. */
  app.post<{ Body: BatchBody }>(
    "/v1/messages",
    { schema: { body: BatchBody }, bodyLimit: BATCH_BODY_LIMIT, onRequest: keyCheck(opts) },
    async (req, reply) => {
      const key = keyOf(req);
      const traceparent = traceparentOf(req.headers[HEADER_TRACEPARENT]);
      const parent = requestSpan(req);
      const items = req.body.messages;
      const results: ItemResult[] = new Array<ItemResult>(items.length);
      const valid: Array<{ index: number; store: StoreRequest }> = [];
      for (let i = 0; i < items.length; i++) {
        try {
          const item = checkBatchItem(items[i], i);
          let room: string;
          let dataJson: string;
          try {
            room = assertRoom(item.room);
            assertCeiling(key, room, "publish");
          } catch (err) {
            itemError(i, "room", err);
          }
          try {
            dataJson = encodeData(item.data);
          } catch (err) {
            itemError(i, "data", err);
          }
          valid.push({
            index: i,
            store: {
              app: key.appId,
              room,
              event: item.event,
              dataJson,
              clientId: item.clientId,
              idempotencyKey: item.idempotencyKey,
              traceparent,
              parent,
            },
          });
        } catch (err) {
          results[i] = errorOf(err, req.log);
        }
      }
      if (valid.length > 0) {
        const granted = opts.limiter.take(key.kid, valid.length);
        for (let v = granted; v < valid.length; v++) {
          const index = (valid[v] as { index: number }).index;
          results[index] = errorOf(
            new SwitchboardError("rate_limited", `messages[${index}]: over this API key's rate limit; retry it later`),
            req.log,
          );
        }
        let stored = 0;
        await Promise.all(
          valid.slice(0, granted).map(async ({ index, store }) => {
            try {
              results[index] = await storeMessage(opts, store);
              stored++;
            } catch (err) {
              results[index] = errorOf(err, req.log);
            }
          }),
        );
        // Nothing could be stored: the batch as a whole is unavailable (per-item outcomes in details).
        if (stored === 0 && granted > 0)
          throw new SwitchboardError("unavailable", "JetStream could not store any message of the batch; retry", {
            retryAfter: RETRY_AFTER_S,
            details: { results },
          });
        if (stored < granted) void reply.header("retry-after", String(RETRY_AFTER_S));
      }
      return reply.status(201).send({ results });
    },
  );

  /** Livestorm-compatible publish: scope → one room; nesting is done by subscribers listening on all three. */
  app.post<{ Body: PubSubBody }>(
    "/api/v1/pub_subs",
    { schema: { body: PubSubBody }, bodyLimit: SINGLE_BODY_LIMIT, onRequest: keyCheck(opts, true) },
    async (req, reply) => {
      const key = keyOf(req);
      const room = roomOfScope(req.body.scope);
      assertCeiling(key, room, "publish");
      const event = req.body.payload.event;
      const dataJson = encodeData(event.data);
      opts.limiter.take(key.kid, 1);
      const result = await storeMessage(opts, {
        app: key.appId,
        room,
        event: event.eventName,
        dataJson,
        idempotencyKey: idempotencyKeyOf(req, undefined),
        traceparent: traceparentOf(req.headers[HEADER_TRACEPARENT]),
        parent: requestSpan(req),
      });
      return reply.status(201).send(result);
    },
  );

  app.post<{ Params: RoomParams; Body: DisconnectBody }>(
    "/v1/rooms/:room/disconnect",
    { schema: { params: RoomParams, body: DisconnectBody }, onRequest: keyCheck(opts) },
    async (req) => {
      const key = keyOf(req);
      const room = assertRoom(req.params.room);
      assertCeiling(key, room, "moderate");
      const { clientId, connectionId, reason } = req.body;
      if ((clientId === undefined) === (connectionId === undefined))
        throw new SwitchboardError("bad_request", "body: send exactly one of clientId or connectionId");
      const target = clientId !== undefined ? { clientId } : { connectionId: connectionId as string };
      const affected = await opts.nats
        .get()
        .moderation.command(key.appId, { op: "disconnect", room, ...target, ...(reason !== undefined ? { reason } : {}) });
      return { affected };
    },
  );

  app.delete<{ Params: MessageParams }>(
    "/v1/rooms/:room/messages/:id",
    { schema: { params: MessageParams }, onRequest: keyCheck(opts) },
    async (req) => {
      const key = keyOf(req);
      const room = assertRoom(req.params.room);
      assertCeiling(key, room, "moderate");
      const { moderation } = opts.nats.get();
      const offset = await moderation.deleteMessage(key.appId, room, req.params.id);
      const affected = await moderation.command(key.appId, { op: "delete", room, messageId: messageIdFromOffset(offset), offset });
      return { affected };
    },
  );
  return Promise.resolve();
}
