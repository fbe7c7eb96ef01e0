/**
 * The limits of the contract in one place: the socket limits every app gets by default (docs/PROTOCOL.md) and the history
 * retention (docs/HTTP-API.md), each with the bounds a setting of it must stay within. The gateway's and history's
 * SWITCHBOARD_* variables (the operator's defaults), the admin API's schema for an app's own `limits` and
 * `retention`, and the reading of stored app records all take their defaults and bounds from here.
 */

/**
 * Largest client frame. uWS's payload limit is per process, so an app may lower it (`limits.maxFrameBytes`) but
 * never raise it.
 */
export const MAX_FRAME_BYTES = 64 * 1024;

/**
 * Deepest nesting of objects and arrays in any JSON a client sends (HTTP bodies, socket frames, message data).
 * Deep enough for any real payload; shallow enough that code walking a value never recurses far.
 */
export const MAX_JSON_DEPTH = 32;

/** Longest idempotency key of a publish (socket frame, HTTP header or batch item). */
export const IDEMPOTENCY_KEY_MAX = 128;

/**
 * Requests per second one socket may make besides publishes (which have their own, per-app limit) and pings: subscribe,
 * unsubscribe, history, presence, occupancy, moderation. Past it a request is answered `rate_limited`, so a subscribe
 * flood costs the gateway a reply, not a NATS subscription and a JetStream read each.
 */
export const SOCKET_REQUEST_RATE = 100;
export const SOCKET_REQUEST_BURST = 200;

/** Per-socket limits, applied by the gateway at upgrade. */
export interface SocketLimits {
  maxRoomsPerSocket: number;
  /** Client publishes per second per socket (token bucket rate); over it a publish is answered `rate_limited`. */
  publishRate: number;
  publishBurst: number;
  /** Outbound buffer past which a socket is closed with 4009. */
  maxOutboundBytes: number;
  /** Open sockets of one app on one gateway process; a socket past it is closed with 1013 (try again later). */
  maxConnections: number;
  maxFrameBytes: number;
}

/** History retention: messages older or beyond the count are not returned. */
export interface RetentionLimits {
  maxAgeMs: number;
  maxMessagesPerRoom: number;
}

export interface Bounds {
  readonly min: number;
  readonly max: number;
}

export const SOCKET_LIMIT_DEFAULTS: Readonly<SocketLimits> = {
  maxRoomsPerSocket: 128,
  publishRate: 50,
  publishBurst: 100,
  maxOutboundBytes: 1024 * 1024,
  maxFrameBytes: MAX_FRAME_BYTES,
  maxConnections: 100_000,
};

export const SOCKET_LIMIT_BOUNDS: { readonly [K in keyof SocketLimits]: Bounds } = {
  maxRoomsPerSocket: { min: 1, max: 10_000 },
  publishRate: { min: 1, max: 100_000 },
  publishBurst: { min: 1, max: 100_000 },
  maxOutboundBytes: { min: 16 * 1024, max: 16 * 1024 * 1024 },
  maxFrameBytes: { min: 1024, max: MAX_FRAME_BYTES },
  maxConnections: { min: 1, max: 1_000_000 },
};

export const RETENTION_DEFAULTS: Readonly<RetentionLimits> = {
  maxAgeMs: 24 * 3_600_000,
  maxMessagesPerRoom: 10_000,
};

export const RETENTION_BOUNDS: { readonly [K in keyof RetentionLimits]: Bounds } = {
  maxAgeMs: { min: 1000, max: 365 * 86_400_000 },
  maxMessagesPerRoom: { min: 1, max: 10_000_000 },
};

/**
 * Per-room chat limits of IVS Chat rooms (CreateRoom / UpdateRoom on auth, stored in the room-settings bucket),
 * applied by the gateway to the IVS chat sockets of that room (docs/VENDORS.md), with IVS Chat's own bounds and
 * defaults.
 */
export interface RoomChatLimits {
  /** Longest SEND_MESSAGE content, in characters (Unicode code points). */
  maximumMessageLength: number;
  /** SEND_MESSAGE requests per second into the room (a token bucket with this rate and burst, per gateway). */
  maximumMessageRatePerSecond: number;
}

export const ROOM_CHAT_LIMITS: { readonly [K in keyof RoomChatLimits]: Bounds & { readonly default: number } } = {
  maximumMessageLength: { min: 1, max: 500, default: 500 },
  maximumMessageRatePerSecond: { min: 1, max: 100, default: 10 },
};
