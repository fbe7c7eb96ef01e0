/** Per-socket state (uWS user data). Plain fields, no per-message allocation. */
import { EffectivePermissions, Permissions, type TokenClaims } from "@switchboard/protocol";
import { refill, type Bucket } from "@switchboard/core";
import type { ProtocolAdapter } from "./adapters/adapter.js";
import type { SocketLimits } from "./apps.js";
import type { RoomChat } from "./roomchat.js";
import type { Room } from "./rooms.js";

/** The socket operations the gateway and its handlers use: uWS's WebSocket has them (a stub in unit tests). */
export interface Socket {
  send(frame: string): unknown;
  cork(cb: () => void): unknown;
  subscribe(topic: string): unknown;
  unsubscribe(topic: string): unknown;
  /** Publishes to a topic's other subscribers (this socket left out). */
  publish(topic: string, frame: string): unknown;
  getBufferedAmount(): number;
  end(code: number, reason: string): unknown;
}

/** Stands in for the socket until it opens (and for refused upgrades, which never get one). */
const NOT_OPEN: Socket = {
  send: () => undefined,
  cork: (cb) => {
    cb();
  },
  subscribe: () => false,
  unsubscribe: () => false,
  publish: () => false,
  getBufferedAmount: () => 0,
  end: () => undefined,
};

export interface RoomSub {
  room: Room;
  /** Event filter; undefined = every event. */
  events: string[] | undefined;
  presence: boolean;
}

/** An IVS chat socket's room (its token's only room) and that room's live chat limits (roomchat.ts). */
export interface IvsState {
  room: string;
  chat: RoomChat;
}

export interface Conn {
  /** The uWS socket, set when it opens; use only while `closed` is false. */
  socket: Socket;
  /** The wire protocol of this socket, chosen at upgrade. */
  adapter: ProtocolAdapter;
  id: string;
  appId: string;
  kid: string;
  claims: TokenClaims;
  permissions: EffectivePermissions;
  /** The app's limits as they were when the socket opened (resolved once at upgrade; no per-message lookup). */
  limits: SocketLimits;
  /** Set when the upgrade was refused: the socket is closed with this code as soon as it opens. */
  refuse: { code: number; reason: string } | undefined;
  subs: Map<string, RoomSub>;
  /** Rooms whose subscribe is in flight (counted against the per-socket limit). */
  pending: Set<string>;
  closed: boolean;
  /** Publish rate limiter (token bucket). */
  publishBucket: Bucket;
  /** Malformed frames seen; past a threshold the socket is closed with 4008. */
  badFrames: number;
  timers: ReturnType<typeof setTimeout>[];
  /** Rooms this connection is a presence member of, with its presence record's joinedAt. */
  presence: Map<string, number>;
  /** Rooms where this connection was muted by connectionId (clientId mutes live on the gateway). */
  muted: Set<string>;
  /** Set on IVS chat sockets (adapters/ivs.ts). */
  ivs: IvsState | undefined;
}

export function newConn(
  fields: Pick<Conn, "id" | "appId" | "kid" | "claims" | "permissions" | "limits" | "adapter"> & { ivs?: IvsState },
): Conn {
  return {
    ivs: undefined,
    ...fields,
    socket: NOT_OPEN,
    refuse: undefined,
    subs: new Map(),
    pending: new Set(),
    closed: false,
    publishBucket: { tokens: fields.limits.publishBurst, at: Date.now() },
    badFrames: 0,
    timers: [],
    presence: new Map(),
    muted: new Set(),
  };
}

const DENY_ALL = new EffectivePermissions(new Permissions({}), undefined);

const REFUSED_LIMITS: SocketLimits = {
  maxRoomsPerSocket: 0,
  publishRate: 0,
  publishBurst: 0,
  maxOutboundBytes: 0,
  maxFrameBytes: 0,
  origins: undefined,
};

export function refusedConn(code: number, reason: string, adapter: ProtocolAdapter): Conn {
  const c = newConn({
    adapter,
    id: "",
    appId: "",
    kid: "",
    claims: { aud: "switchboard", iat: 0, exp: 0, jti: "", permissions: {} },
    permissions: DENY_ALL,
    limits: REFUSED_LIMITS,
  });
  c.refuse = { code, reason };
  return c;
}

/** Token bucket: `rate` per second, up to `burst`. Returns false when the publish must be refused. */
export function takeToken(c: Conn, rate: number, burst: number, now: number): boolean {
  const b = c.publishBucket;
  refill(b, rate, burst, now);
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}
