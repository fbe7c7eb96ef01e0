/**
 * The request → result map of the WebSocket protocol (docs/PROTOCOL.md): for every request type, the request frame
 * the client sends and the `result` of its `ok` reply. The gateway's handlers return `ResultOf<K>` and the client
 * SDK's `request<K>()` resolves with it, so both ends are bound by the same types; adding a request type without a
 * result here fails to compile on both sides.
 */
import type { ClientRequest, PresenceMember, PublishResult, RequestType, StoredMessage, SubscribeResult } from "./frames.js";

/** A reply with nothing to report beyond success. */
export type EmptyResult = Record<string, never>;

export interface HistoryResult {
  messages: StoredMessage[];
  /** Cursor of the following page, or null at the end. */
  next: string | null;
}

export interface PresenceGetResult {
  members: PresenceMember[];
}

export interface OccupancyResult {
  connections: number;
  subscribers: number;
  presenceMembers: number;
}

export interface RefreshResult {
  /** The new token's expiry, epoch ms. */
  expiresAt: number;
}

export interface ModerateResult {
  /** Sockets acted on, summed over every gateway. */
  affected: number;
}

/** The `result` of the `ok` reply to each request type. */
export interface ResultMap {
  subscribe: SubscribeResult;
  unsubscribe: EmptyResult;
  publish: PublishResult;
  "presence.join": EmptyResult;
  "presence.update": EmptyResult;
  "presence.leave": EmptyResult;
  "presence.get": PresenceGetResult;
  history: HistoryResult;
  occupancy: OccupancyResult;
  refresh: RefreshResult;
  "moderate.disconnect": ModerateResult;
  "moderate.mute": ModerateResult;
  "moderate.unmute": ModerateResult;
  "moderate.delete": EmptyResult;
  ping: EmptyResult;
}

/** The member of R whose `type` admits K, narrowed to `type: K` (some frames share one interface for several types). */
type ByType<R, K> = R extends { type: infer T } ? (K extends T ? Omit<R, "type"> & { type: K } : never) : never;

/** The request frame of type K (a union of frames when K is a union of types). */
export type RequestOf<K extends RequestType> = K extends RequestType ? ByType<ClientRequest, K> : never;

/** The result of an `ok` reply to a request of type K (a compile error when ResultMap lacks K). */
export type ResultOf<K extends RequestType> = ResultMap[K];

/** What a caller fills in for a request of type K: the frame without `type` and `id`, which the client sets. */
export type RequestFields<K extends RequestType> = Omit<RequestOf<K>, "type" | "id">;

/** ResultMap has exactly the request types as keys (the types below fail to compile otherwise). */
type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const RESULT_MAP_COMPLETE: Exact<keyof ResultMap, RequestType> = true;
