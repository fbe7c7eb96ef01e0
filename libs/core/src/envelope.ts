/**
 * The stored form of a room message. The body is JSON whose keys are exactly the `message` push fields (minus
 * `type`, `room`, `id`, `offset`) and always starts with `{"event":"`, so a gateway can build the push by prefixing
 * the body, and read the event name for filters, without parsing the data (event names never need escaping).
 */
import { SwitchboardError, messageIdFromOffset, type StoredMessage } from "@switchboard/protocol";

export interface MessageBody {
  event: string;
  data: unknown;
  timestamp: number;
  clientId?: string;
  attributes?: Record<string, string>;
  connectionData?: string;
}

export const HEADER_MSG_ID = "Nats-Msg-Id";
export const HEADER_TRACEPARENT = "traceparent";

const EVENT_START = '{"event":"'.length;

/** Largest `data`, measured as UTF-8 JSON (docs/PROTOCOL.md, docs/HTTP-API.md). */
export const MAX_DATA_BYTES = 64 * 1024;

/** `data` as JSON (`null` when absent); throws `too_large` past MAX_DATA_BYTES. */
export function encodeData(data: unknown): string {
  const json = data === undefined ? "null" : JSON.stringify(data);
  if (json.length > MAX_DATA_BYTES / 3 && Buffer.byteLength(json) > MAX_DATA_BYTES)
    throw new SwitchboardError("too_large", `data is larger than ${MAX_DATA_BYTES} bytes as JSON; send less or split it`);
  return json;
}

/** Builds the stored body by concatenation; `event` is a validated event name (no escaping needed). */
export function encodeBody(b: Omit<MessageBody, "data"> & { dataJson: string }): string {
  let s = `{"event":"${b.event}","data":${b.dataJson},"timestamp":${b.timestamp}`;
  if (b.clientId !== undefined) s += `,"clientId":${JSON.stringify(b.clientId)}`;
  if (b.attributes !== undefined) s += `,"attributes":${JSON.stringify(b.attributes)}`;
  if (b.connectionData !== undefined) s += `,"connectionData":${JSON.stringify(b.connectionData)}`;
  return s + "}";
}

/** The event name of an encoded body, without parsing it. */
export function bodyEvent(body: string): string {
  return body.slice(EVENT_START, body.indexOf('"', EVENT_START));
}

/** `{"type":"message","room":…,"id":…,"offset":…,<body fields>}` built by concatenation. */
export function messagePushFrame(roomJson: string, offset: number, body: string): string {
  return `{"type":"message","room":${roomJson},"id":"${messageIdFromOffset(offset)}","offset":${offset},${body.slice(1)}`;
}

export function storedMessage(room: string, offset: number, body: string): StoredMessage {
  const b = JSON.parse(body) as MessageBody;
  const m: StoredMessage = { room, id: messageIdFromOffset(offset), offset, event: b.event, data: b.data, timestamp: b.timestamp };
  if (b.clientId !== undefined) m.clientId = b.clientId;
  if (b.attributes !== undefined) m.attributes = b.attributes;
  if (b.connectionData !== undefined) m.connectionData = b.connectionData;
  return m;
}
