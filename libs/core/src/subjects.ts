/**
 * Every NATS subject, stream and bucket name Switchboard uses (docs/ARCHITECTURE.md). Call sites build subjects only through
 * these helpers; app ids and room names are validated before they reach here, so no escaping is needed (both
 * alphabets exclude `.`, `*`, `>` and whitespace).
 */

export const STREAM_ROOMS = "SB_ROOMS";

export const Buckets = {
  apps: "sb_apps",
  keys: "sb_keys",
  sessions: "sb_sessions",
  presence: "sb_presence",
  revocations: "sb_revocations",
  /** Moderation state that outlives a socket: clients muted in a room (KvKeys.mute). */
  moderation: "sb_moderation",
  /** Per-room settings (KvKeys.roomSettings): IVS Chat rooms with their message length and rate limits. */
  rooms: "sb_rooms",
} as const;
export type BucketName = (typeof Buckets)[keyof typeof Buckets];

const ROOM_PREFIX = "sb.r.";
const LIVE_PREFIX = "sb.live.";

export const Subjects = {
  /** Where a room's messages are stored. */
  room: (app: string, room: string): string => `${ROOM_PREFIX}${app}.${room}`,
  roomsAll: `${ROOM_PREFIX}>`,
  /** Rooms of one app (history: active rooms). */
  roomsOfApp: (app: string): string => `${ROOM_PREFIX}${app}.>`,
  /** Where the stream republishes a room's stored messages; gateways subscribe while a socket wants the room. */
  live: (app: string, room: string): string => `${LIVE_PREFIX}${app}.${room}`,
  liveAll: `${LIVE_PREFIX}>`,
  /** Control commands for an app's sockets on every gateway: disconnect, mute, delete (JSON body with `op`). */
  control: (app: string): string => `sb.ctl.${app}`,
  controlAll: "sb.ctl.*",
  /** Presence changes of a room, to every gateway with a socket in it. */
  presence: (app: string, room: string): string => `sb.pres.${app}.${room}`,
  /** Request/reply to the history service (queue group `history`). */
  history: (app: string): string => `sb.hist.${app}`,
  historyAll: "sb.hist.*",
  /** Occupancy of a room, gathered from every gateway (scatter/gather). */
  occupancy: (app: string): string => `sb.occ.${app}`,
  occupancyAll: "sb.occ.*",
} as const;

export const QUEUE_HISTORY = "history";

/** Splits `sb.r.<app>.<room>` or `sb.live.<app>.<room>` into app and room; undefined for anything else. */
export function parseRoomSubject(subject: string): { app: string; room: string } | undefined {
  const prefix = subject.startsWith(LIVE_PREFIX) ? LIVE_PREFIX : subject.startsWith(ROOM_PREFIX) ? ROOM_PREFIX : undefined;
  if (prefix === undefined) return undefined;
  const dot = subject.indexOf(".", prefix.length);
  if (dot < 0) return undefined;
  return { app: subject.slice(prefix.length, dot), room: subject.slice(dot + 1) };
}

/** KV keys allow `[-/_=.a-zA-Z0-9]`; room names and client ids are carried base64url-encoded. */
export function kvToken(value: string): string {
  return Buffer.from(value, "utf8").toString("base64url");
}

export function fromKvToken(token: string): string {
  return Buffer.from(token, "base64url").toString("utf8");
}

export const KvKeys = {
  app: (app: string): string => app,
  key: (app: string, keyId: string): string => `${app}.${keyId}`,
  session: (app: string, sessionId: string): string => `${app}.${sessionId}`,
  /** A connection announced before its socket exists (OpenVidu-style `con_…`), in the sessions bucket under its session. */
  sessionConnection: (app: string, sessionId: string, connectionId: string): string => `${app}.${sessionId}.${connectionId}`,
  sessionConnections: (app: string, sessionId: string): string => `${app}.${sessionId}.*`,
  presence: (app: string, room: string, connectionId: string): string => `${app}.${kvToken(room)}.${connectionId}`,
  presenceOfRoom: (app: string, room: string): string => `${app}.${kvToken(room)}.>`,
  roomSettings: (app: string, room: string): string => `${app}.${kvToken(room)}`,
  roomSettingsOfApp: (app: string): string => `${app}.*`,
  mute: (app: string, room: string, clientId: string): string => `mute.${app}.${kvToken(room)}.${kvToken(clientId)}`,
  revokedJti: (app: string, jti: string): string => `jti.${app}.${kvToken(jti)}`,
  revokedClient: (app: string, clientId: string): string => `client.${app}.${kvToken(clientId)}`,
  /** A closed session: its tokens (room `session:<id>`) are refused and its sockets closed. */
  revokedSession: (app: string, sessionId: string): string => `session.${app}.${sessionId}`,
} as const;
