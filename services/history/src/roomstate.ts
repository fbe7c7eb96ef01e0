/**
 * Who is in a room and which rooms are active (docs/HTTP-API.md):
 * - presence: the room's members from the presence bucket (PresenceRecord under KvKeys.presence), read with one
 *   filtered consumer delivering the last value per key;
 * - occupancy: connections and subscribers summed from every gateway (libs/core gatherOccupancy; no gateway
 *   counts as 0) plus the presence member count;
 * - active rooms: rooms of the app with at least one message retained in the rooms stream (the stream's
 *   per-subject state under `sb.r.<app>.>`), so a room stops being active when retention removes its last message.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import {
  STREAM_ROOMS,
  Subjects,
  gatherOccupancy,
  readPresence,
  parseRoomSubject,
  type Logger,
  type PresenceRecord,
} from "@switchboard/core";

/** Most rooms listed by one `GET /v1/rooms`. */
export const ROOMS_LIST_MAX = 1000;

export interface Occupancy {
  connections: number;
  subscribers: number;
  presenceMembers: number;
}

export interface ActiveRoom {
  room: string;
  /** Messages retained for the room. */
  messages: number;
}

export interface RoomState {
  presence(app: string, room: string): Promise<PresenceRecord[]>;
  occupancy(app: string, room: string): Promise<Occupancy>;
  rooms(app: string, prefix: string, maxMessagesPerRoom: number): Promise<ActiveRoom[]>;
}

export function createRoomState(nc: NatsConnection, js: JetStreamClient, jsm: JetStreamManager, log: Logger): RoomState {
  function presence(app: string, room: string): Promise<PresenceRecord[]> {
    return readPresence(js, jsm, app, room, log);
  }

  async function occupancy(app: string, room: string): Promise<Occupancy> {
    const [counts, members] = await Promise.all([gatherOccupancy(nc, app, room, log), presence(app, room)]);
    return { ...counts, presenceMembers: members.length };
  }

  async function rooms(app: string, prefix: string, maxMessagesPerRoom: number): Promise<ActiveRoom[]> {
    const info = await jsm.streams.info(STREAM_ROOMS, { subjects_filter: Subjects.roomsOfApp(app) });
    const out: ActiveRoom[] = [];
    for (const [subject, count] of Object.entries(info.state.subjects ?? {})) {
      const parsed = parseRoomSubject(subject);
      if (parsed === undefined || parsed.app !== app || !parsed.room.startsWith(prefix) || count <= 0) continue;
      out.push({ room: parsed.room, messages: Math.min(count, maxMessagesPerRoom) });
    }
    out.sort((a, b) => (a.room < b.room ? -1 : a.room > b.room ? 1 : 0));
    return out.slice(0, ROOMS_LIST_MAX);
  }

  return { presence, occupancy, rooms };
}
