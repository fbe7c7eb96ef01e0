/**
 * The Amazon IVS Chat messaging protocol (docs/VENDORS.md), spoken on upgrades at `/` that carry the chat token as
 * their subprotocol, so that the unmodified `amazon-ivs-chat-messaging` client connects. JSON text frames with
 * capitalised keys. Client → server: `SEND_MESSAGE`, `DELETE_MESSAGE`, `DISCONNECT_USER` (decoded here, served by
 * ivs/requests.ts). Server → client: `MESSAGE` (a stored message with event `message`), `EVENT` (any other event,
 * and the `aws:DELETE_MESSAGE` / `aws:DISCONNECT_USER` moderation events), `ERROR` (a refused request, or the
 * expired token the client renews by reconnecting). A frame caused by a socket's own request carries that
 * request's `RequestId`: the client resolves its promise on it. Ids are Switchboard message ids; times RFC 3339.
 *
 * There is no greeting, no presence and no resume in this protocol: a socket is in exactly one room (its token's)
 * from the moment it opens, live.
 */
import { randomUUID } from "node:crypto";
import {
  CloseCode,
  FrameError,
  MAX_FRAME_BYTES,
  messageIdFromOffset,
  parseStrictJson,
  type ErrorCode,
  type SwitchboardError,
} from "@switchboard/protocol";
import type { MessageBody } from "@switchboard/core";
import { topicIvs } from "../topics.js";
import type { ProtocolAdapter } from "./adapter.js";

/** The event name of an IVS chat message; every other event reaches IVS sockets as an EVENT. */
export const IVS_MESSAGE_EVENT = "message";
export const IVS_DELETE_EVENT = "aws:DELETE_MESSAGE";
export const IVS_DISCONNECT_EVENT = "aws:DISCONNECT_USER";

/** The ErrorCode of an ERROR frame for each contract error (the client reconnects on 401, so a refusal is 403). */
const STATUS_OF: Readonly<Record<ErrorCode, number>> = {
  bad_request: 400,
  invalid_room: 400,
  not_subscribed: 400,
  unauthorized: 403,
  muted: 403,
  not_found: 404,
  conflict: 400,
  too_large: 413,
  rate_limited: 429,
  unavailable: 500,
  internal: 500,
};
/** ErrorCode that makes the client fetch a new token and reconnect. */
export const IVS_TOKEN_EXPIRED = 401;

export type IvsRequest =
  | { action: "SEND_MESSAGE"; requestId: string; content: string; attributes: Record<string, string> | undefined }
  | { action: "DELETE_MESSAGE"; requestId: string; id: string; reason: string | undefined }
  | { action: "DISCONNECT_USER"; requestId: string; userId: string; reason: string | undefined };

/** A refused IVS frame: answered with an ERROR carrying `requestId` when one was readable. */
export class IvsFrameError extends FrameError {
  constructor(
    readonly ivsRequestId: string | undefined,
    message: string,
  ) {
    super(null, "bad_request", message);
  }
}

type Obj = Record<string, unknown>;

/** Longest RequestId, Id, UserId and Reason (IVS's own bounds are 128 for ids and 256 for reasons). */
const FIELD_MAX = 256;

function isStringMap(v: unknown): v is Record<string, string> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string");
}

const decoder = new TextDecoder();

/** One client frame → a request; throws IvsFrameError saying what is wrong. */
export function decodeIvsFrame(frame: ArrayBuffer): IvsRequest {
  let v: unknown;
  try {
    v = parseStrictJson(decoder.decode(frame), "frame");
  } catch (err) {
    throw new IvsFrameError(undefined, (err as Error).message);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new IvsFrameError(undefined, "frame must be a JSON object");
  const o = v as Obj;
  const rid = o["RequestId"];
  if (typeof rid !== "string" || rid === "" || rid.length > 128)
    throw new IvsFrameError(undefined, "RequestId must be a string of 1 to 128 characters");
  const str = (k: string, max = FIELD_MAX): string => {
    const x = o[k];
    if (typeof x !== "string" || x.length > max) throw new IvsFrameError(rid, `${k} must be a string of at most ${max} characters`);
    return x;
  };
  const optStr = (k: string): string | undefined => (o[k] === undefined || o[k] === null ? undefined : str(k));
  switch (o["Action"]) {
    case "SEND_MESSAGE": {
      const a = o["Attributes"];
      if (a !== undefined && a !== null && !isStringMap(a)) throw new IvsFrameError(rid, "Attributes must map strings to strings");
      return { action: "SEND_MESSAGE", requestId: rid, content: str("Content", MAX_FRAME_BYTES), attributes: a ?? undefined };
    }
    case "DELETE_MESSAGE":
      return { action: "DELETE_MESSAGE", requestId: rid, id: str("Id"), reason: optStr("Reason") };
    case "DISCONNECT_USER":
      return { action: "DISCONNECT_USER", requestId: rid, userId: str("UserId"), reason: optStr("Reason") };
    default:
      throw new IvsFrameError(rid, "Action must be SEND_MESSAGE, DELETE_MESSAGE or DISCONNECT_USER");
  }
}

/** `{"Type":"ERROR",…}` for a refused request (`requestId` undefined when none was readable). */
export function ivsErrorFrame(requestId: string | undefined, errorCode: number, message: string): string {
  return JSON.stringify({ Type: "ERROR", Id: randomUUID(), RequestId: requestId, ErrorCode: errorCode, ErrorMessage: message });
}

export function ivsErrorOf(requestId: string | undefined, err: SwitchboardError): string {
  return ivsErrorFrame(requestId, STATUS_OF[err.code], err.message);
}

/** `{"Type":"EVENT",…}`; `attributes` must map strings to strings. */
export function ivsEventFrame(
  id: string,
  eventName: string,
  sendTime: number,
  attributes: Record<string, string> | undefined,
  requestId?: string,
): string {
  return JSON.stringify({
    Type: "EVENT",
    Id: id,
    RequestId: requestId,
    EventName: eventName,
    SendTime: new Date(sendTime).toISOString(),
    Attributes: attributes,
  });
}

/** An EVENT's Attributes: the data when it maps strings to strings, else `{data: <its JSON text>}`. */
function eventAttributes(data: unknown): Record<string, string> {
  return isStringMap(data) ? data : { data: JSON.stringify(data ?? null) };
}

/** A stored message as an IVS frame: MESSAGE for event `message`, EVENT otherwise (docs/VENDORS.md mapping). */
export function ivsMessageFrame(offset: number, body: string, requestId?: string): string {
  const b = JSON.parse(body) as MessageBody;
  const id = messageIdFromOffset(offset);
  const data = b.data;
  if (b.event !== IVS_MESSAGE_EVENT) return ivsEventFrame(id, b.event, b.timestamp, eventAttributes(data), requestId);
  const obj = typeof data === "object" && data !== null && !Array.isArray(data) ? (data as Obj) : undefined;
  const content =
    obj !== undefined && typeof obj["content"] === "string"
      ? obj["content"]
      : typeof data === "string"
        ? data
        : JSON.stringify(data ?? null);
  const attributes =
    obj !== undefined && typeof obj["content"] === "string" && isStringMap(obj["attributes"]) ? obj["attributes"] : undefined;
  return JSON.stringify({
    Type: "MESSAGE",
    Id: id,
    RequestId: requestId,
    Content: content,
    Attributes: attributes,
    SendTime: new Date(b.timestamp).toISOString(),
    Sender: { UserId: b.clientId ?? "", Attributes: b.attributes },
  });
}

/** The data a SEND_MESSAGE stores (`{content, attributes?}`). */
export function ivsMessageData(content: string, attributes: Record<string, string> | undefined): string {
  return JSON.stringify(attributes === undefined ? { content } : { content, attributes });
}

export const ivsAdapter: ProtocolAdapter = {
  name: "ivs",
  decode: () => {
    throw new IvsFrameError(undefined, "IVS frames are decoded by decodeIvsFrame");
  },
  connected: () => undefined,
  topic: topicIvs,
  reply: () => "",
  error: (_id, err) => ivsErrorOf(undefined, err),
  message: (_roomJson, offset, body) => ivsMessageFrame(offset, body),
  presence: () => "",
  deleted: (_room, id) => ivsEventFrame(randomUUID(), IVS_DELETE_EVENT, Date.now(), { MessageID: id }),
  // An unstored signal is an EVENT like a stored event (EventName = the event), with an id of its own.
  signal: (_room, event, data) => ivsEventFrame(randomUUID(), event, Date.now(), eventAttributes(data)),
  unsubscribed: (room, reason) => ivsEventFrame(randomUUID(), "switchboard:UNSUBSCRIBED", Date.now(), { room, reason }),
  tokenExpiring: () => undefined,
  closing: (code) =>
    code === CloseCode.TOKEN_EXPIRED
      ? ivsErrorFrame(undefined, IVS_TOKEN_EXPIRED, "the chat token expired; reconnect with a new one")
      : undefined,
};
