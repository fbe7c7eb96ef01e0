/**
 * Names of the contract (docs/ARCHITECTURE.md, docs/HTTP-API.md): rooms, events, app ids, key ids, client ids.
 * Validation here is the only place these rules are written.
 */
import { SwitchboardError } from "./errors.js";

export const ROOM_MAX = 128;
export const EVENT_MAX = 64;
export const CLIENT_ID_MAX = 128;
export const ID_MAX = 64;

const ROOM_RE = /^[A-Za-z0-9_\-:@=+,;~!]{1,128}$/;
const EVENT_RE = /^[A-Za-z0-9_\-:.]{1,64}$/;
/** App ids, key ids and session ids: safe inside NATS subjects, KV keys and `appId.keyId:secret`. */
const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

export function isValidRoom(room: unknown): room is string {
  return typeof room === "string" && ROOM_RE.test(room);
}

export function isValidEvent(event: unknown): event is string {
  return typeof event === "string" && EVENT_RE.test(event);
}

export function isValidId(id: unknown): id is string {
  return typeof id === "string" && ID_RE.test(id);
}

export function isValidClientId(clientId: unknown): clientId is string {
  return typeof clientId === "string" && clientId.length >= 1 && clientId.length <= CLIENT_ID_MAX;
}

/** Throws `invalid_room` with a message naming the rule. */
export function assertRoom(room: unknown): string {
  if (isValidRoom(room)) return room;
  throw new SwitchboardError(
    "invalid_room",
    `invalid room name ${describe(room)}: use 1-${ROOM_MAX} characters from A-Z a-z 0-9 _ - : @ = + , ; ~ !`,
  );
}

/** Throws `bad_request` with a message naming the rule. */
export function assertEvent(event: unknown): string {
  if (isValidEvent(event)) return event;
  throw new SwitchboardError(
    "bad_request",
    `invalid event name ${describe(event)}: use 1-${EVENT_MAX} characters from A-Z a-z 0-9 _ - : .`,
  );
}

function describe(value: unknown): string {
  if (typeof value !== "string") return `(${value === null ? "null" : typeof value})`;
  const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return JSON.stringify(shown);
}

/** Parses `appId.keyId:secret`; returns undefined when the shape is wrong. */
export function parseApiKey(apiKey: string): { appId: string; keyId: string; secret: string } | undefined {
  const colon = apiKey.indexOf(":");
  if (colon < 0) return undefined;
  const name = apiKey.slice(0, colon);
  const secret = apiKey.slice(colon + 1);
  const dot = name.indexOf(".");
  if (dot < 0) return undefined;
  const appId = name.slice(0, dot);
  const keyId = name.slice(dot + 1);
  if (!isValidId(appId) || !isValidId(keyId) || secret.length === 0) return undefined;
  return { appId, keyId, secret };
}
