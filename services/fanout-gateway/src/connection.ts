/** Per-socket state (uWS user data). Plain fields, no per-message allocation. */
import { EffectivePermissions, Permissions, SOCKET_REQUEST_BURST, type TokenClaims } from "@switchboard/protocol";
import { takeOne, type Bucket } from "@switchboard/core";
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

/** An IVS chat socket's room (its token's only room), that room's live chat limits (roomchat.ts), its start. */
export interface IvsState {
  room: string;
  chat: RoomChat;
  /** The room's offset when the upgrade was answered: the socket's stream starts after it. */
  from: number;
  /** Settles once the socket joined its room; its requests wait for it (their pushes must come after the replay). */
  joined?: Promise<void>;
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
  /**
   * The collections below start as one shared empty instance each (most sockets never use some of them, and an
   * empty Map or Set costs about 150 bytes per socket): read them directly, change them through own().
   */
  subs: ReadonlyMap<string, RoomSub>;
  /** Rooms whose subscribe is in flight (counted against the per-socket limit). */
  pending: ReadonlySet<string>;
  closed: boolean;
  /** Publish rate limiter (token bucket). */
  publishBucket: Bucket;
  /** Every other request but ping (SOCKET_REQUEST_RATE). */
  requestBucket: Bucket;
  /** Malformed frames seen; past a threshold the socket is closed with 4008. */
  badFrames: number;
  /** Where the expiry wheel holds this socket (expiry.ts): token exp and sessionExp buckets, 0 = none. */
  wheelExp: number;
  wheelSession: number;
  /** The token.expiring push is sent or not wanted (the token was within its lead time when armed). */
  expiringDone: boolean;
  /** Rooms this connection is a presence member of, with its presence record's joinedAt. */
  presence: ReadonlyMap<string, number>;
  /** Rooms where this connection was muted by connectionId (clientId mutes live on the gateway). */
  muted: ReadonlySet<string>;
  /** Set on IVS chat sockets (adapters/ivs.ts). */
  ivs: IvsState | undefined;
}

/**
 * What a uWS socket carries: uWS.js copies every property of the upgrade's user data onto its socket object (a
 * dictionary of about 800 bytes for Conn's fields), so it gets one property, the Conn.
 */
export interface UserData {
  conn: Conn;
}

const NO_SUBS: ReadonlyMap<string, RoomSub> = new Map();
const NO_ROOMS: ReadonlySet<string> = new Set();
const NO_PRESENCE: ReadonlyMap<string, number> = new Map();

/** The socket's own, writable collections, made on first write (see Conn). */
export const own = {
  subs(c: Conn): Map<string, RoomSub> {
    if (c.subs === NO_SUBS) c.subs = new Map();
    return c.subs as Map<string, RoomSub>;
  },
  pending(c: Conn): Set<string> {
    if (c.pending === NO_ROOMS) c.pending = new Set();
    return c.pending as Set<string>;
  },
  presence(c: Conn): Map<string, number> {
    if (c.presence === NO_PRESENCE) c.presence = new Map();
    return c.presence as Map<string, number>;
  },
  muted(c: Conn): Set<string> {
    if (c.muted === NO_ROOMS) c.muted = new Set();
    return c.muted as Set<string>;
  },
  /** Back to the shared empty instances (a closed socket). */
  clear(c: Conn): void {
    c.subs = NO_SUBS;
    c.pending = NO_ROOMS;
    c.presence = NO_PRESENCE;
    c.muted = NO_ROOMS;
  },
};

type ConnFields = Pick<Conn, "id" | "appId" | "kid" | "claims" | "permissions" | "limits" | "adapter"> & { ivs?: IvsState };

/**
 * One class, every field set in the constructor in one order: all sockets share one hidden class. (Built as an
 * object spread plus fields, every Conn had a hidden class of its own, about 180 bytes per socket.)
 */
class ConnState implements Conn {
  socket: Socket = NOT_OPEN;
  adapter: ProtocolAdapter;
  id: string;
  appId: string;
  kid: string;
  claims: TokenClaims;
  permissions: EffectivePermissions;
  limits: SocketLimits;
  refuse: { code: number; reason: string } | undefined = undefined;
  subs: ReadonlyMap<string, RoomSub> = NO_SUBS;
  pending: ReadonlySet<string> = NO_ROOMS;
  closed = false;
  publishBucket: Bucket;
  requestBucket: Bucket;
  badFrames = 0;
  wheelExp = 0;
  wheelSession = 0;
  expiringDone = false;
  presence: ReadonlyMap<string, number> = NO_PRESENCE;
  muted: ReadonlySet<string> = NO_ROOMS;
  ivs: IvsState | undefined;

  constructor(f: ConnFields) {
    this.adapter = f.adapter;
    this.id = f.id;
    this.appId = f.appId;
    this.kid = f.kid;
    this.claims = f.claims;
    this.permissions = f.permissions;
    this.limits = f.limits;
    const now = Date.now();
    this.publishBucket = { tokens: f.limits.publishBurst, at: now };
    this.requestBucket = { tokens: SOCKET_REQUEST_BURST, at: now };
    this.ivs = f.ivs;
  }
}

export function newConn(fields: ConnFields): Conn {
  return new ConnState(fields);
}

const DENY_ALL = new EffectivePermissions(new Permissions({}), undefined);

const REFUSED_LIMITS: SocketLimits = {
  maxRoomsPerSocket: 0,
  publishRate: 0,
  publishBurst: 0,
  maxOutboundBytes: 0,
  maxFrameBytes: 0,
  maxConnections: 0,
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
  return takeOne(c.publishBucket, rate, burst, now);
}
