/**
 * WebSocket protocol frames (docs/PROTOCOL.md): client requests, server replies and pushes, and the validation of every
 * client frame. The gateway parses with `parseRequest`; the client SDK builds frames with these types.
 */
import { SwitchboardError, type ErrorCode } from "./errors.js";
import { parseStrictJson } from "./json.js";
import { IDEMPOTENCY_KEY_MAX } from "./limits.js";
import { isValidClientId, isValidEvent, isValidRoom, CLIENT_ID_MAX, EVENT_MAX, ROOM_MAX } from "./names.js";
import { HISTORY_LIMIT_MAX, parseHistoryQuery, type HistoryQuery } from "./history.js";

export const WS_PATH = "/v1/ws";
export const PRESENCE_DATA_MAX = 1000;

export type Since = { offset: number } | { last: number };

export interface SubscribeRequest {
  type: "subscribe";
  id: number;
  room: string;
  events?: string[];
  since?: Since;
  presence?: boolean;
}
export interface RoomRequest<T extends string> {
  type: T;
  id: number;
  room: string;
}
export interface PublishRequest {
  type: "publish";
  id: number;
  room: string;
  event: string;
  data: unknown;
  idempotencyKey?: string;
}
export interface PresenceRequest {
  type: "presence.join" | "presence.update" | "presence.leave";
  id: number;
  room: string;
  data?: unknown;
}
/** The query fields are history.ts's (the socket request pages with before/after, not `next`). */
export interface HistoryRequest extends Omit<HistoryQuery, "next"> {
  type: "history";
  id: number;
  room: string;
}
export interface RefreshRequest {
  type: "refresh";
  id: number;
  token: string;
}
export interface ModerateTargetRequest {
  type: "moderate.disconnect" | "moderate.mute" | "moderate.unmute";
  id: number;
  room: string;
  clientId?: string;
  connectionId?: string;
}
export interface ModerateDeleteRequest {
  type: "moderate.delete";
  id: number;
  room: string;
  messageId: string;
}
export interface PingRequest {
  type: "ping";
  id: number;
}

export type ClientRequest =
  | SubscribeRequest
  | RoomRequest<"unsubscribe" | "presence.get" | "occupancy">
  | PublishRequest
  | PresenceRequest
  | HistoryRequest
  | RefreshRequest
  | ModerateTargetRequest
  | ModerateDeleteRequest
  | PingRequest;

export type RequestType = ClientRequest["type"];

export const REQUEST_TYPES: readonly RequestType[] = [
  "subscribe",
  "unsubscribe",
  "publish",
  "presence.join",
  "presence.update",
  "presence.leave",
  "presence.get",
  "history",
  "occupancy",
  "refresh",
  "moderate.disconnect",
  "moderate.mute",
  "moderate.unmute",
  "moderate.delete",
  "ping",
];

// ---- server → client ----

export interface ConnectedFrame {
  type: "connected";
  connectionId: string;
  clientId: string | null;
  expiresAt: number;
  sessionExpiresAt: number | null;
  heartbeatMs: number;
}
/** An `ok` reply; its `result` is typed by the request → result map (requests.ts ResultMap). */
export interface ReplyOk<R = unknown> {
  type: "reply";
  id: number;
  ok: true;
  result: R;
}
export interface ReplyError {
  type: "reply";
  id: number | null;
  ok: false;
  /** SwitchboardError.toJSON(). */
  error: ReturnType<SwitchboardError["toJSON"]>;
}
export interface MessagePush {
  type: "message";
  room: string;
  event: string;
  data: unknown;
  id: string;
  offset: number;
  timestamp: number;
  clientId?: string;
  attributes?: Record<string, string>;
  connectionData?: string;
}
export interface PresenceMember {
  clientId: string;
  connectionId: string;
  data: unknown;
  joinedAt: number;
}
export interface PresencePush {
  type: "presence";
  room: string;
  action: "join" | "update" | "leave";
  member: PresenceMember;
}
export interface DeletedPush {
  type: "message.deleted";
  room: string;
  id: string;
}
export interface UnsubscribedPush {
  type: "unsubscribed";
  room: string;
  reason: string;
}
export interface TokenExpiringPush {
  type: "token.expiring";
  expiresAt: number;
}
/**
 * A signal to this one connection (an OpenTok `signal` to a connectionId, docs/VENDORS.md): not stored, so it has
 * no id or offset, is not in history and is not replayed on resume. It arrives whether or not the socket subscribed
 * to `room`.
 */
export interface SignalPush {
  type: "signal";
  room: string;
  event: string;
  data: unknown;
}
export type ServerFrame =
  ConnectedFrame | ReplyOk | ReplyError | MessagePush | PresencePush | DeletedPush | UnsubscribedPush | TokenExpiringPush | SignalPush;

/** A stored message as history returns it (a `message` push without `type`). */
export type StoredMessage = Omit<MessagePush, "type">;

export interface SubscribeResult {
  room: string;
  offset: number;
  recovered: boolean;
}
export interface PublishResult {
  id: string;
  offset: number;
}

// ---- parsing ----

/** A frame that could not be turned into a request; `id` is set when the frame carried a usable one. */
export class FrameError extends SwitchboardError {
  constructor(
    readonly requestId: number | null,
    code: ErrorCode,
    message: string,
  ) {
    super(code, message);
  }
}

type Obj = Record<string, unknown>;

function fail(id: number | null, message: string, code: ErrorCode = "bad_request"): never {
  throw new FrameError(id, code, message);
}

function room(o: Obj, id: number): string {
  const r = o["room"];
  if (r === undefined) fail(id, "room is required");
  if (!isValidRoom(r)) fail(id, `room must be 1-${ROOM_MAX} characters from A-Z a-z 0-9 _ - : @ = + , ; ~ !`, "invalid_room");
  return r;
}

function optInt(o: Obj, key: string, id: number, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) fail(id, `${key} must be an integer from ${min} to ${max}`);
  return v;
}

/**
 * Parses one text frame. Throws FrameError (with the request id when one could be read) for anything that is not a
 * well-formed request of docs/PROTOCOL.md.
 */
export function parseRequest(text: string): ClientRequest {
  let value: unknown;
  try {
    value = parseStrictJson(text, "frame");
  } catch (err) {
    // Repeated keys, __proto__, deep nesting and overflowing numbers are named; a syntax error is just that.
    const message = (err as SwitchboardError).message;
    fail(null, message.startsWith("frame is not valid JSON") ? "frame is not valid JSON" : message);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(null, "frame must be a JSON object");
  const o = value as Obj;
  const id = o["id"];
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 0) fail(null, "id must be a non-negative integer");
  const type = o["type"];
  if (typeof type !== "string") fail(id, "type is required");
  switch (type) {
    case "ping":
      return { type, id };
    case "unsubscribe":
    case "presence.get":
    case "occupancy":
      return { type, id, room: room(o, id) };
    case "subscribe": {
      const req: SubscribeRequest = { type, id, room: room(o, id) };
      const events = o["events"];
      if (events !== undefined) {
        if (!Array.isArray(events) || events.length === 0 || events.length > 64) fail(id, "events must be an array of 1-64 event names");
        for (const e of events) if (!isValidEvent(e)) fail(id, `each event must be 1-${EVENT_MAX} characters from A-Z a-z 0-9 _ - : .`);
        req.events = events as string[];
      }
      const since = o["since"];
      if (since !== undefined) {
        if (typeof since !== "object" || since === null) fail(id, "since must be {offset} or {last}");
        const s = since as Obj;
        if (s["offset"] !== undefined && s["last"] === undefined) {
          const offset = optInt(s, "offset", id, 0);
          req.since = { offset: offset ?? 0 };
        } else if (s["last"] !== undefined && s["offset"] === undefined) {
          const last = optInt(s, "last", id, 0, HISTORY_LIMIT_MAX);
          req.since = { last: last ?? 0 };
        } else fail(id, "since must be exactly one of {offset} or {last}");
      }
      const presence = o["presence"];
      if (presence !== undefined) {
        if (typeof presence !== "boolean") fail(id, "presence must be a boolean");
        req.presence = presence;
      }
      return req;
    }
    case "publish": {
      const event = o["event"];
      if (!isValidEvent(event)) fail(id, `event must be 1-${EVENT_MAX} characters from A-Z a-z 0-9 _ - : .`);
      if (!("data" in o)) fail(id, "data is required (use null for none)");
      const req: PublishRequest = { type, id, room: room(o, id), event, data: o["data"] };
      const key = o["idempotencyKey"];
      if (key !== undefined) {
        if (typeof key !== "string" || key.length < 1 || key.length > IDEMPOTENCY_KEY_MAX)
          fail(id, `idempotencyKey must be a string of 1-${IDEMPOTENCY_KEY_MAX} characters`);
        req.idempotencyKey = key;
      }
      return req;
    }
    case "presence.join":
    case "presence.update":
    case "presence.leave": {
      const req: PresenceRequest = { type, id, room: room(o, id) };
      if ("data" in o) req.data = o["data"];
      return req;
    }
    case "history": {
      const r = room(o, id);
      try {
        return { type, id, room: r, ...parseHistoryQuery(o, { cursor: false }) };
      } catch (err) {
        if (err instanceof SwitchboardError) fail(id, err.message, err.code);
        throw err;
      }
    }
    case "refresh": {
      const token = o["token"];
      if (typeof token !== "string" || token.length === 0) fail(id, "token is required");
      return { type, id, token };
    }
    case "moderate.disconnect":
    case "moderate.mute":
    case "moderate.unmute": {
      const req: ModerateTargetRequest = { type, id, room: room(o, id) };
      const clientId = o["clientId"];
      const connectionId = o["connectionId"];
      if ((clientId === undefined) === (connectionId === undefined)) fail(id, "give exactly one of clientId or connectionId");
      if (clientId !== undefined) {
        if (!isValidClientId(clientId)) fail(id, `clientId must be a string of 1-${CLIENT_ID_MAX} characters`);
        req.clientId = clientId;
      }
      if (connectionId !== undefined) {
        if (typeof connectionId !== "string" || connectionId.length === 0 || connectionId.length > 64)
          fail(id, "connectionId must be a string of 1-64 characters");
        req.connectionId = connectionId;
      }
      return req;
    }
    case "moderate.delete": {
      const messageId = o["messageId"];
      if (typeof messageId !== "string" || messageId.length === 0 || messageId.length > 64) fail(id, "messageId is required");
      return { type, id, room: room(o, id), messageId };
    }
    default:
      return fail(id, `unknown request type ${JSON.stringify(type.slice(0, 40))}; use one of ${REQUEST_TYPES.join(", ")}`);
  }
}

export function replyOk(id: number, result: unknown): string {
  return JSON.stringify({ type: "reply", id, ok: true, result } satisfies ReplyOk);
}

/** An error reply; its body is the error's SwitchboardError.toJSON(). */
export function replyErrorFrom(id: number | null, err: SwitchboardError): string {
  return JSON.stringify({ type: "reply", id, ok: false, error: err.toJSON() } satisfies ReplyError);
}

export function replyError(id: number | null, code: ErrorCode, message: string): string {
  return replyErrorFrom(id, new SwitchboardError(code, message));
}
