/**
 * Control commands carried on `sb.ctl.<app>` (Subjects.control) to every gateway: moderation from HTTP or from a
 * moderator socket, session close. A command sent as a NATS request is answered by each gateway with
 * `{affected}` (sockets or subscriptions it acted on), so the sender can sum the replies.
 */

export type ControlTarget = { clientId: string } | { connectionId: string };

export type ControlCommand =
  | ({ op: "disconnect"; room?: string; reason?: string } & ControlTarget)
  | ({ op: "mute" | "unmute"; room: string } & ControlTarget)
  | { op: "delete"; room: string; messageId: string; offset: number }
  | { op: "session.close"; sessionId: string };

export interface ControlReply {
  affected: number;
}

/**
 * Occupancy is gathered from every gateway: a request on `sb.occ.<app>` (Subjects.occupancy) with
 * `OccupancyQuery` is answered by each gateway that has the room locally; the requester sums the replies
 * (nats.js `requestMany`, bounded wait). Presence members are counted from the presence bucket, not here.
 */
export interface OccupancyQuery {
  room: string;
}

export interface OccupancyReply {
  connections: number;
  subscribers: number;
}

/**
 * A presence member as stored in the presence bucket under KvKeys.presence(app, room, connectionId); the gateway
 * that holds the socket re-puts it before the bucket TTL (PRESENCE_TTL_MS) runs out, so a dead gateway's members
 * disappear on their own.
 */
export interface PresenceRecord {
  clientId: string;
  connectionId: string;
  data: unknown;
  joinedAt: number;
}
