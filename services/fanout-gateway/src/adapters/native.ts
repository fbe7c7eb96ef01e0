/**
 * The native Switchboard protocol (docs/PROTOCOL.md): JSON text frames parsed by libs/protocol's parseRequest;
 * every frame the gateway emits is checked against its libs/protocol type with `satisfies`, except the message push,
 * which is concatenated from the stored body (libs/core messagePushFrame) so that fan-out never re-serializes.
 */
import {
  parseRequest,
  replyErrorFrom,
  replyOk,
  type ConnectedFrame,
  type DeletedPush,
  type RequestType,
  type ResultOf,
  type SignalPush,
  type SwitchboardError,
  type TokenExpiringPush,
  type UnsubscribedPush,
} from "@switchboard/protocol";
import { messagePushFrame } from "@switchboard/core";
import type { PresenceAction, ProtocolAdapter } from "./adapter.js";

const decoder = new TextDecoder();

export const nativeAdapter: ProtocolAdapter = {
  name: "native",
  decode: (frame) => parseRequest(decoder.decode(frame)),
  // Every connect sends one: concatenated in ConnectedFrame's field order (connectionId is base64url; only the
  // clientId needs escaping), at a fraction of the cost of a stringify of a spread object.
  connected: (info: Omit<ConnectedFrame, "type">) =>
    `{"type":"connected","connectionId":"${info.connectionId}","clientId":${info.clientId === null ? "null" : JSON.stringify(info.clientId)},` +
    `"expiresAt":${info.expiresAt},"sessionExpiresAt":${info.sessionExpiresAt ?? "null"},"heartbeatMs":${info.heartbeatMs}}`,
  reply: <K extends RequestType>(id: number, _type: K, result: ResultOf<K>) => replyOk(id, result),
  error: (id: number | null, err: SwitchboardError) => replyErrorFrom(id, err),
  message: messagePushFrame,
  // The member is already JSON (serialized once per room); the PresencePush shape is spelled out here.
  presence: (roomJson: string, action: PresenceAction, memberJson: string) =>
    `{"type":"presence","room":${roomJson},"action":"${action}","member":${memberJson}}`,
  deleted: (room, id) => JSON.stringify({ type: "message.deleted", room, id } satisfies DeletedPush),
  signal: (room, event, data) => JSON.stringify({ type: "signal", room, event, data } satisfies SignalPush),
  unsubscribed: (room, reason) => JSON.stringify({ type: "unsubscribed", room, reason } satisfies UnsubscribedPush),
  tokenExpiring: (expiresAt) => JSON.stringify({ type: "token.expiring", expiresAt } satisfies TokenExpiringPush),
  topic: (roomKey) => roomKey,
  closing: () => undefined,
};
