/**
 * Control commands carried on `sb.ctl.<app>` (Subjects.control) to every gateway: moderation from HTTP or from a
 * moderator socket, session close. A command sent as a NATS request is answered by each gateway with
 * `{affected}` (sockets or subscriptions it acted on), so the sender can sum the replies.
 */

import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "./logger.js";
import { Subjects } from "./subjects.js";

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

export const OCCUPANCY_MAX_WAIT_MS = 1000;
export const OCCUPANCY_STALL_MS = 60;

/**
 * Sums every gateway's OccupancyReply for a room: a requestMany on Subjects.occupancy(app) that ends
 * OCCUPANCY_STALL_MS after the replies stop (at most OCCUPANCY_MAX_WAIT_MS). No gateway running counts as 0.
 */
export async function gatherOccupancy(nc: NatsConnection, app: string, room: string, log: Logger): Promise<OccupancyReply> {
  const total: OccupancyReply = { connections: 0, subscribers: 0 };
  const query: OccupancyQuery = { room };
  try {
    const replies = await nc.requestMany(Subjects.occupancy(app), JSON.stringify(query), {
      strategy: "stall",
      stall: OCCUPANCY_STALL_MS,
      maxWait: OCCUPANCY_MAX_WAIT_MS,
    });
    for await (const m of replies) {
      if (m.data.length === 0) continue; // a no-responders status
      try {
        const r = m.json<OccupancyReply>();
        if (Number.isSafeInteger(r.connections)) total.connections += r.connections;
        if (Number.isSafeInteger(r.subscribers)) total.subscribers += r.subscribers;
      } catch {
        log.warn({ app }, "unreadable occupancy reply");
      }
    }
  } catch (err) {
    log.debug({ err: (err as Error).message, app }, "occupancy request got no answer");
  }
  return total;
}
