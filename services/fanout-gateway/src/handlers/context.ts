/**
 * What request handlers work with: the NATS-backed services of the gateway, each behind a small interface so that
 * a handler can be tested with stubs (handlers.test.ts), and the few socket operations they need from the gateway.
 * Built once, when NATS is ready (layer.ts); a handler never reaches for the NATS runtime itself.
 */
import type { Capability, RequestOf, RequestType, ResultOf } from "@switchboard/protocol";
import { SwitchboardError } from "@switchboard/protocol";
import type { AckPublisher, HistoryClient, Logger, Moderation, OccupancyReply, PresenceRecord, VerifiedToken } from "@switchboard/core";
import type { PresenceMember } from "@switchboard/protocol";
import type { Conn } from "../connection.js";
import type { GatewayMetrics } from "../metrics.js";
import type { RoomHub } from "../hub.js";

/** Presence across gateways (presence.ts PresenceHub). */
export interface PresencePort {
  enter(app: string, room: string, rec: PresenceRecord, action: "join" | "update"): Promise<void>;
  leave(app: string, room: string, connectionId: string): Promise<void>;
  members(app: string, room: string): Promise<PresenceMember[]>;
  /** Starts (or references) the presence pushes of a room on this gateway. */
  watch(app: string, room: string): void;
  unwatch(app: string, room: string): void;
}

/** Offsets of a room in the rooms stream. */
export interface RoomOffsets {
  /** The newest message's offset (0 when the room has none). */
  last(app: string, room: string): Promise<number>;
  /** The oldest stored message's offset, or null when the room has none. */
  first(app: string, room: string): Promise<number | null>;
}

export interface MutePort {
  has(app: string, room: string, clientId: string): boolean;
  persist(app: string, room: string, clientId: string, muted: boolean): Promise<void>;
}

export interface HandlerContext {
  readonly log: Logger;
  readonly metrics: GatewayMetrics;
  readonly hub: RoomHub;
  readonly presence: PresencePort;
  readonly history: HistoryClient;
  readonly offsets: RoomOffsets;
  readonly publisher: AckPublisher;
  readonly mutes: MutePort;
  /** Commands to every gateway and message deletion (libs/core natsModeration). */
  readonly moderation: Moderation;
  /** Connections and subscribers of a room summed over every gateway. */
  occupancy(app: string, room: string): Promise<OccupancyReply>;
  /** Verifies a token against the key and revocation registries. */
  verify(token: string): Promise<VerifiedToken>;
  /** Sends a frame to an open socket, closing it with 4009 when its outbound buffer is over its limit. */
  send(conn: Conn, frame: string): void;
  /** (Re)arms the socket's token expiry timers from its claims. */
  armTimers(conn: Conn): void;
}

/** Handles one request type; its result is typed by libs/protocol's request → result map. */
export type Handler<K extends RequestType> = (ctx: HandlerContext, conn: Conn, req: RequestOf<K>) => ResultOf<K> | Promise<ResultOf<K>>;

export type Handlers = { readonly [K in RequestType]: Handler<K> };

/** Throws `unauthorized` unless the socket's token grants `cap` on `room`. */
export function requireCap(conn: Conn, room: string, cap: Capability): void {
  if (!conn.permissions.can(room, cap))
    throw new SwitchboardError("unauthorized", `your token lacks the ${cap} capability on room ${room}`);
}
