/**
 * Amazon IVS Chat control plane drop-in (AWS restJson1 for @aws-sdk/client-ivschat 3.9xx): every operation is
 * `POST /<Operation>` signed with SigV4 (service `ivschat`, any region; sigv4.ts), the access key id being the
 * Switchboard key id `appId.keyId` and the secret its secret. Rooms are Switchboard rooms named by their IVS id, with
 * their limits stored per room (rooms.ts); CreateChatToken issues a Switchboard token for that room (reading is
 * implicit, SEND_MESSAGE → publish, DELETE_MESSAGE / DISCONNECT_USER → moderate); SendEvent stores a message;
 * DeleteMessage and DisconnectUser are Switchboard moderation. Errors are AWS-shaped (x-amzn-errortype, `{message,
 * …}`, ValidationException with fieldList), and never 5xx for a client mistake (the SDK retries those).
 */
import { randomUUID } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { SwitchboardError, assertEvent, messageIdFromOffset, parseStrictJson, type Capability } from "@switchboard/protocol";
import type { ResolvedKey } from "@switchboard/core";
import type { VendorFailureReason } from "../../metrics.js";
import { VendorError, vendorScope } from "../errors.js";
import type { VendorOptions } from "../options.js";
import { storeRoomMessage } from "../store.js";
import { IvsRooms, ROOM_LIMITS, newRoomId, roomArn, roomIdOf, type IvsRoomRecord } from "./rooms.js";
import {
  ATTRIBUTES_MAX_BYTES,
  CreateChatTokenBody,
  CreateRoomBody,
  DeleteMessageBody,
  DisconnectUserBody,
  ListRoomsBody,
  RoomIdBody,
  SESSION_MINUTES,
  SendEventBody,
  UpdateRoomBody,
} from "./schemas.js";
import { SigV4Error, headersFromRaw, verifySigV4, type SigV4Failure } from "./sigv4.js";

export const IVSCHAT_SERVICE = "ivschat";

const TYPE_OF_STATUS: Record<number, string> = {
  400: "ValidationException",
  401: "AccessDeniedException",
  403: "AccessDeniedException",
  404: "ResourceNotFoundException",
  409: "ConflictException",
  413: "ValidationException",
  415: "ValidationException",
  429: "ThrottlingException",
  503: "InternalServerException",
};

function sendAwsError(reply: FastifyReply, err: VendorError): FastifyReply {
  // A client mistake is never a 5xx here: the SDK would retry it.
  const status =
    err.status === 401 ? 403 : err.status >= 500 && err.reason !== "unavailable" && err.reason !== "internal" ? 400 : err.status;
  const type = err.extra.type ?? TYPE_OF_STATUS[status] ?? (status >= 500 ? "InternalServerException" : "ValidationException");
  const body: Record<string, unknown> = { message: err.message };
  const fields = err.extra.fields ?? {};
  if (type === "ValidationException") {
    const field = fields["field"];
    if (typeof field === "string") {
      body["reason"] = "FIELD_VALIDATION_FAILED";
      body["fieldList"] = [{ name: field.replace(/^body\.?/, "") || "body", message: err.message }];
    } else {
      body["reason"] = fields["reason"] ?? "OTHER";
      if (fields["fieldList"] !== undefined) body["fieldList"] = fields["fieldList"];
    }
  } else Object.assign(body, fields);
  return reply
    .status(status)
    .header("x-amzn-errortype", type)
    .header("x-amzn-requestid", randomUUID())
    .header("content-type", "application/json")
    .send(body);
}

const REASON_OF_SIGV4: Record<SigV4Failure, VendorFailureReason> = {
  missing: "unauthorized",
  incomplete: "unauthorized",
  unknown_key: "unauthorized",
  bad_signature: "bad_signature",
  body_hash: "bad_signature",
  wrong_service: "bad_signature",
  expired: "expired",
};

function fieldError(name: string, message: string): VendorError {
  return new VendorError(400, "bad_request", `${name}: ${message}`, { fields: { field: name } });
}

function notFound(id: string): VendorError {
  return new VendorError(404, "not_found", `room ${id} does not exist`, { fields: { resourceId: id, resourceType: "ROOM" } });
}

function attributesBytes(a: Record<string, string> | undefined): number {
  let n = 0;
  for (const [k, v] of Object.entries(a ?? {})) n += Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}

function checkAttributes(a: Record<string, string> | undefined): void {
  if (attributesBytes(a) > ATTRIBUTES_MAX_BYTES) throw fieldError("attributes", `must be at most ${ATTRIBUTES_MAX_BYTES} bytes in total`);
}

function unsupported(body: Record<string, unknown>, fields: string[]): void {
  for (const f of fields) {
    const v = body[f];
    if (v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0) && !(typeof v === "object" && Object.keys(v).length === 0))
      throw fieldError(f, "is not supported: Switchboard has no Lambda review handlers or logging configurations");
  }
}

interface Signed {
  key: ResolvedKey;
  region: string;
}

const signed = new WeakMap<FastifyRequest, Signed>();
const rawBodies = new WeakMap<FastifyRequest, Buffer>();

function signedOf(req: FastifyRequest): Signed {
  const s = signed.get(req);
  if (s === undefined) throw new VendorError(500, "internal", "route is missing its SigV4 check");
  return s;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function ivschatRoutes(app: FastifyInstance, opts: VendorOptions): Promise<void> {
  vendorScope(app, { vendor: "ivschat", metrics: opts.metrics, log: opts.log, send: sendAwsError });
  // SigV4 hashes the body as received, so this scope keeps the bytes before parsing them (with the shared strict reader).
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (req, body, done) => {
    rawBodies.set(req, body as Buffer);
    try {
      done(null, (body as Buffer).length === 0 ? {} : parseStrictJson((body as Buffer).toString("utf8")));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addHook("preValidation", async (req) => {
    const url = req.raw.url ?? "/";
    const q = url.indexOf("?");
    try {
      let key: ResolvedKey | undefined;
      const v = await verifySigV4(
        {
          method: req.method,
          path: q < 0 ? url : url.slice(0, q),
          query: q < 0 ? "" : url.slice(q + 1),
          headers: headersFromRaw(req.raw.rawHeaders),
          body: rawBodies.get(req) ?? Buffer.alloc(0),
        },
        IVSCHAT_SERVICE,
        async (akid) => (key = await opts.nats.get().keyById(akid))?.secret,
      );
      if (key === undefined) throw new VendorError(500, "internal", "SigV4 verified without a key");
      signed.set(req, { key, region: v.region });
    } catch (err) {
      if (err instanceof SigV4Error) throw new VendorError(403, REASON_OF_SIGV4[err.reason], err.message, { type: err.awsType });
      throw err;
    }
  });

  const rooms = () => new IvsRooms(opts.nats.get().rooms);

  /** The room an identifier names in the caller's app, or ResourceNotFoundException. */
  const requireRoom = async (key: ResolvedKey, identifier: string) => {
    const id = roomIdOf(identifier, key.appId);
    const found = id === undefined ? undefined : await rooms().get(key.appId, id);
    if (found === undefined) throw notFound(id ?? identifier);
    return found;
  };

  const requireCap = (key: ResolvedKey, room: string, cap: Capability) => {
    if (key.ceiling !== undefined && !key.ceiling.can(room, cap))
      throw new VendorError(403, "forbidden", `access key ${key.kid} may not ${cap} in room ${room}`);
  };

  const roomJson = (region: string, appId: string, r: IvsRoomRecord) => ({
    arn: roomArn(region, appId, r.id),
    id: r.id,
    name: r.name,
    createTime: iso(r.createdAt),
    updateTime: iso(r.updatedAt),
    maximumMessageRatePerSecond: r.maximumMessageRatePerSecond,
    maximumMessageLength: r.maximumMessageLength,
    tags: r.tags,
    loggingConfigurationIdentifiers: [],
  });

  app.post<{ Body: CreateChatTokenBody }>("/CreateChatToken", { schema: { body: CreateChatTokenBody } }, async (req) => {
    const { key } = signedOf(req);
    const b = req.body;
    checkAttributes(b.attributes);
    const { room } = await requireRoom(key, b.roomIdentifier);
    const caps: Capability[] = ["subscribe", "presence", "history"];
    const asked = new Set(b.capabilities ?? []);
    if (asked.has("SEND_MESSAGE")) caps.push("publish");
    if (asked.has("DELETE_MESSAGE") || asked.has("DISCONNECT_USER")) caps.push("moderate");
    const minutes = b.sessionDurationInMinutes ?? SESSION_MINUTES.default;
    const issued = opts.issuer.issue(
      {
        permissions: { [room.id]: caps },
        clientId: b.userId,
        expiresIn: minutes * 60,
        sessionDurationMinutes: minutes,
        ...(b.attributes !== undefined ? { attributes: b.attributes } : {}),
      },
      undefined,
      key,
    );
    if (!("token" in issued)) throw new VendorError(500, "internal", "one token was asked for, several came back");
    return {
      token: issued.token,
      tokenExpirationTime: iso(issued.expiresAt),
      sessionExpirationTime: iso(issued.sessionExpiresAt ?? issued.expiresAt),
    };
  });

  app.post<{ Body: SendEventBody }>("/SendEvent", { schema: { body: SendEventBody } }, async (req) => {
    const { key } = signedOf(req);
    const b = req.body;
    checkAttributes(b.attributes);
    try {
      assertEvent(b.eventName);
    } catch (err) {
      throw fieldError("eventName", (err as Error).message);
    }
    const { room } = await requireRoom(key, b.roomIdentifier);
    requireCap(key, room.id, "publish");
    const stored = await storeRoomMessage(opts.nats.get().publisher, {
      app: key.appId,
      room: room.id,
      event: b.eventName,
      data: b.attributes ?? {},
    });
    return { id: stored.id };
  });

  app.post<{ Body: DeleteMessageBody }>("/DeleteMessage", { schema: { body: DeleteMessageBody } }, async (req) => {
    const { key } = signedOf(req);
    const { room } = await requireRoom(key, req.body.roomIdentifier);
    requireCap(key, room.id, "moderate");
    const { moderation } = opts.nats.get();
    let offset: number;
    try {
      offset = await moderation.deleteMessage(key.appId, room.id, req.body.id);
    } catch (err) {
      if (err instanceof SwitchboardError && err.code === "not_found") throw fieldError("id", err.message);
      throw err;
    }
    // IVS chat sockets see the delete as an aws:DELETE_MESSAGE event with this id and reason (gateway ivs/fanout.ts).
    const eventId = randomUUID();
    await moderation.command(key.appId, {
      op: "delete",
      room: room.id,
      messageId: messageIdFromOffset(offset),
      offset,
      eventId,
      ...(req.body.reason !== undefined ? { reason: req.body.reason } : {}),
    });
    return { id: eventId };
  });

  app.post<{ Body: DisconnectUserBody }>("/DisconnectUser", { schema: { body: DisconnectUserBody } }, async (req) => {
    const { key } = signedOf(req);
    const { room } = await requireRoom(key, req.body.roomIdentifier);
    requireCap(key, room.id, "moderate");
    await opts.nats.get().moderation.command(key.appId, {
      op: "disconnect",
      room: room.id,
      clientId: req.body.userId,
      reason: req.body.reason ?? "disconnected by the application",
      eventId: randomUUID(),
    });
    return {};
  });

  // ---- rooms ----

  app.post<{ Body: CreateRoomBody }>("/CreateRoom", { schema: { body: CreateRoomBody } }, async (req) => {
    const { key, region } = signedOf(req);
    const b = req.body;
    unsupported(b, ["messageReviewHandler", "loggingConfigurationIdentifiers"]);
    const now = Date.now();
    const room: IvsRoomRecord = {
      id: newRoomId(),
      name: b.name ?? "",
      createdAt: now,
      updatedAt: now,
      maximumMessageLength: b.maximumMessageLength ?? ROOM_LIMITS.maximumMessageLength.default,
      maximumMessageRatePerSecond: b.maximumMessageRatePerSecond ?? ROOM_LIMITS.maximumMessageRatePerSecond.default,
      tags: b.tags ?? {},
    };
    await rooms().create(key.appId, room);
    return roomJson(region, key.appId, room);
  });

  app.post<{ Body: RoomIdBody }>("/GetRoom", { schema: { body: RoomIdBody } }, async (req) => {
    const { key, region } = signedOf(req);
    return roomJson(region, key.appId, (await requireRoom(key, req.body.identifier)).room);
  });

  app.post<{ Body: UpdateRoomBody }>("/UpdateRoom", { schema: { body: UpdateRoomBody } }, async (req) => {
    const { key, region } = signedOf(req);
    const b = req.body;
    unsupported(b, ["messageReviewHandler", "loggingConfigurationIdentifiers"]);
    const { room, revision } = await requireRoom(key, b.identifier);
    const next: IvsRoomRecord = {
      ...room,
      name: b.name ?? room.name,
      maximumMessageLength: b.maximumMessageLength ?? room.maximumMessageLength,
      maximumMessageRatePerSecond: b.maximumMessageRatePerSecond ?? room.maximumMessageRatePerSecond,
      updatedAt: Date.now(),
    };
    if (!(await rooms().update(key.appId, next, revision)))
      throw new VendorError(409, "conflict", `room ${room.id} changed while being updated; retry`, {
        fields: { resourceId: room.id, resourceType: "ROOM" },
      });
    return roomJson(region, key.appId, next);
  });

  app.post<{ Body: RoomIdBody }>("/DeleteRoom", { schema: { body: RoomIdBody } }, async (req, reply) => {
    const { key } = signedOf(req);
    const { room } = await requireRoom(key, req.body.identifier);
    await rooms().remove(key.appId, room.id);
    return reply.status(204).send();
  });

  app.post<{ Body: ListRoomsBody }>("/ListRooms", { schema: { body: ListRoomsBody } }, async (req) => {
    const { key, region } = signedOf(req);
    const b = req.body;
    unsupported(b, ["messageReviewHandlerUri", "loggingConfigurationIdentifier"]);
    const all = (await rooms().list(key.appId)).filter((r) => b.name === undefined || r.name === b.name);
    const start = b.nextToken === undefined ? 0 : Number.parseInt(Buffer.from(b.nextToken, "base64url").toString("utf8"), 10);
    if (!Number.isSafeInteger(start) || start < 0 || start > all.length) throw fieldError("nextToken", "is not a token ListRooms gave");
    const max = b.maxResults ?? 50;
    const page = all.slice(start, start + max).map((r) => {
      const { maximumMessageLength: _l, maximumMessageRatePerSecond: _r, ...summary } = roomJson(region, key.appId, r);
      return summary;
    });
    const next = start + max < all.length ? Buffer.from(String(start + max)).toString("base64url") : undefined;
    return next === undefined ? { rooms: page } : { rooms: page, nextToken: next };
  });
  return Promise.resolve();
}
