/**
 * The WebSocket upgrade: the token (query `token`; for IVS chat sockets at `/`, the subprotocol, echoed back) is
 * verified against the key and revocation registries, the
 * app's limits are resolved (apps.ts) and the browser Origin checked against its allow-list; the socket is then
 * opened with its state (Conn) and its protocol adapter. A bad token still upgrades and is closed at once with its
 * close code (a browser cannot read an HTTP refusal); an Origin not allowed is a 403, and our own passing trouble
 * (not ready, NATS unavailable) a 503 with Retry-After.
 */
import { randomBytes } from "node:crypto";
import { CloseCode, SwitchboardError, type TokenClaims } from "@switchboard/protocol";
import {
  Subjects,
  TokenError,
  lastOffsetOf,
  sessionOf,
  verifyToken,
  verifyTokenCached,
  type Logger,
  type VerifiedToken,
} from "@switchboard/core";
import type { ProtocolAdapter } from "./adapters/adapter.js";
import { ivsAdapter } from "./adapters/ivs.js";
import { nativeAdapter } from "./adapters/native.js";
import { newConn, refusedConn, type Conn, type IvsState, type UserData } from "./connection.js";
import type { SocketLimits } from "./apps.js";
import type { GatewayDeps } from "./deps.js";
import { writeError } from "./http.js";
import type { GatewayMetrics } from "./metrics.js";
import { originIn } from "./origin.js";
import type { HttpRequest, HttpResponse } from "./uws.js";
import { isOpenTokToken, verifyOpenTokToken } from "./vendortokens.js";

/** The wire protocols, by the path a socket connects at (gateway.ts): native at WS_PATH, IVS chat at `/`. */
export type SocketProtocol = "native" | "ivs";

const ADAPTERS: Readonly<Record<SocketProtocol, ProtocolAdapter>> = { native: nativeAdapter, ivs: ivsAdapter };

/** The one room an IVS chat token names (CreateChatToken grants exactly one), or undefined. */
function ivsRoomOf(permissions: Record<string, unknown>): string | undefined {
  const rooms = Object.keys(permissions);
  return rooms.length === 1 && rooms[0] !== undefined && !rooms[0].includes("*") ? rooms[0] : undefined;
}

/**
 * Connection ids: 9 random bytes each (12 base64url characters), cut from a pooled random buffer: one
 * randomBytes call per socket took about 10 µs of a connect's CPU.
 */
const ID_BYTES = 9;
const ID_POOL = ID_BYTES * 512;
let idPool = Buffer.alloc(0);
let idAt = ID_POOL;

function connectionId(): string {
  if (idAt + ID_BYTES > idPool.length) {
    idPool = randomBytes(ID_POOL);
    idAt = 0;
  }
  idAt += ID_BYTES;
  return idPool.toString("base64url", idAt - ID_BYTES, idAt);
}

/** A query parameter, "" when absent (uWS answers undefined then, whatever its typings say). */
function queryParam(req: HttpRequest, name: string): string {
  const v = req.getQuery(name) as string | undefined;
  return v ?? "";
}

/** An OpenVidu connection id (auth's `con_…`, the clientId of its token). */
const OPENVIDU_CONNECTION_ID = /^con_[A-Za-z0-9_-]{1,64}$/;

/**
 * The socket's connectionId: a session token's OpenVidu connection id (known since the app created the connection,
 * so that OpenVidu REST calls name this socket; docs/VENDORS.md), else a fresh random one.
 */
function connectionIdOf(claims: TokenClaims): string {
  const clientId = claims.clientId;
  if (clientId !== undefined && clientId.startsWith("con_") && OPENVIDU_CONNECTION_ID.test(clientId) && sessionOf(claims) !== undefined)
    return clientId;
  return connectionId();
}

/**
 * One upgrade in progress. A class rather than closures: the connect hot path (a cached key and app) allocates this
 * one object and answers within uWS's upgrade handler, where the response needs no cork; only an upgrade that waits
 * for I/O registers onAborted and corks its answer.
 */
class Upgrade {
  /** Set once the handler returned without answering: the answer then comes later, corked, unless aborted. */
  private async = false;
  private aborted = false;

  constructor(
    private readonly res: HttpResponse,
    private readonly context: unknown,
    private readonly deps: GatewayDeps,
    private readonly o: { log: Logger; metrics: GatewayMetrics },
    private readonly kind: SocketProtocol,
    private readonly key: string,
    private readonly protocol: string,
    private readonly extensions: string,
    private readonly origin: string,
    private readonly sessionId: string,
  ) {}

  /** From here on the answer comes after the handler returned. */
  waitForIo(): void {
    this.async = true;
    this.res.onAborted(() => {
      this.aborted = true;
    });
  }

  private accept(conn: Conn): void {
    if (this.aborted) return;
    const { res, key, protocol, extensions, context } = this;
    if (this.async) res.cork(() => res.upgrade({ conn } satisfies UserData, key, protocol, extensions, context as never));
    else res.upgrade({ conn } satisfies UserData, key, protocol, extensions, context as never);
  }

  private refuse(err: SwitchboardError, statusText: string): void {
    if (this.aborted) return;
    if (this.async) this.res.cork(() => writeError(this.res, err, statusText));
    else writeError(this.res, err, statusText);
  }

  /** Refuses the upgrade with 503 + Retry-After: a passing condition on our side, not the client's fault. */
  unavailable(message: string): void {
    this.refuse(new SwitchboardError("unavailable", message), "Service Unavailable");
  }

  /** The token verified: checks the Origin and the session, then opens the socket with its state. */
  admit(v: VerifiedToken, limits: SocketLimits): void {
    const { o, origin, sessionId, kind } = this;
    const adapter = ADAPTERS[kind];
    if (!originIn(limits.origins, origin)) {
      if (this.aborted) return;
      o.metrics.verifyFailures.inc({ reason: "origin" });
      const message = `origin ${origin.slice(0, 100)} is not on this app's allow-list`;
      this.refuse(new SwitchboardError("unauthorized", message, { status: 403 }), "Forbidden");
      return;
    }
    if (sessionId !== "" && sessionOf(v.claims) !== sessionId) {
      o.metrics.verifyFailures.inc({ reason: "session" });
      this.accept(refusedConn(CloseCode.TOKEN_INVALID, `the token is not for session ${sessionId.slice(0, 64)}`, adapter));
      return;
    }
    const fields = {
      id: connectionIdOf(v.claims),
      appId: v.key.appId,
      kid: v.key.kid,
      claims: v.claims,
      permissions: v.permissions,
      limits,
      adapter,
    };
    if (kind === "native") {
      this.accept(newConn(fields));
      return;
    }
    const room = ivsRoomOf(v.claims.permissions);
    if (room === undefined) {
      o.metrics.verifyFailures.inc({ reason: "ivs_room" });
      this.accept(refusedConn(CloseCode.TOKEN_INVALID, "an IVS chat token must name exactly one room", adapter));
      return;
    }
    // The client is "connected" once the upgrade is answered, but the socket joins its room after it opens: the room's
    // offset now is where its stream starts, so whatever is stored in between is replayed (IVS has no resume).
    this.waitForIo();
    Promise.all([this.deps.roomChat.get(v.key.appId, room), lastOffsetOf(this.deps.jsm, Subjects.room(v.key.appId, room))]).then(
      ([chat, from]) => this.accept(newConn({ ...fields, ivs: { room, chat, from } satisfies IvsState })),
      (err: unknown) => {
        o.log.warn({ err: (err as Error).message, app: v.key.appId }, "cannot read the room settings or offset at upgrade");
        this.unavailable("room settings could not be read; retry");
      },
    );
  }

  /** The token was refused (or could not be checked): the socket opens and is closed at once with the token's code. */
  rejected(err: unknown): void {
    const { o } = this;
    if (!(err instanceof TokenError) && err instanceof SwitchboardError && err.code === "unavailable") {
      // The key could not be read (NATS down): not the token's fault, so answer like any not-ready moment.
      o.log.warn({ err: err.message }, "token key unavailable at upgrade");
      this.unavailable("gateway cannot read API keys right now; retry");
      return;
    }
    const te = err instanceof TokenError ? err : undefined;
    if (te === undefined) o.log.error({ err }, "token verification failed unexpectedly");
    o.metrics.verifyFailures.inc({ reason: te?.reason ?? "error" });
    this.accept(refusedConn(te?.closeCode ?? CloseCode.TOKEN_INVALID, te?.message ?? "token could not be verified", ADAPTERS[this.kind]));
  }

  /** Verifies with I/O allowed (a key or app record not in memory yet, or an OpenTok token). */
  verifyThenAdmit(token: string, openTok: boolean): void {
    const { deps, o } = this;
    this.waitForIo();
    (openTok ? verifyOpenTokToken(token, deps) : verifyToken(token, deps)).then(
      (v) =>
        deps.apps.get(v.key.appId).then(
          (limits) => {
            this.admit(v, limits);
          },
          (err: unknown) => {
            o.log.warn({ err: (err as Error).message, app: v.key.appId }, "cannot read the app record at upgrade");
            this.unavailable("app settings could not be read; retry");
          },
        ),
      (err: unknown) => {
        this.rejected(err);
      },
    );
  }
}

/** Answers the upgrade; `deps` is undefined while the gateway cannot accept sockets (not ready, or draining). */
export function upgradeSocket(
  res: HttpResponse,
  req: HttpRequest,
  context: unknown,
  deps: GatewayDeps | undefined,
  o: { log: Logger; metrics: GatewayMetrics },
  kind: SocketProtocol = "native",
): void {
  if (deps === undefined) {
    writeError(res, new SwitchboardError("unavailable", "gateway not ready; retry"), "Service Unavailable");
    return;
  }
  // Everything needed from `req` is read now: uWS invalidates it once this handler returns.
  // uWS getQuery already percent-decodes; decoding again would throw on a stray "%" (and crash the process).
  // An IVS chat client offers its token as the only subprotocol; the handshake must echo it.
  const offered = req.getHeader("sec-websocket-protocol");
  const protocol = kind === "ivs" ? (offered.split(",")[0] ?? "").trim() : offered;
  const token = kind === "ivs" ? protocol : queryParam(req, "token");
  const u = new Upgrade(
    res,
    context,
    deps,
    o,
    kind,
    req.getHeader("sec-websocket-key"),
    protocol,
    req.getHeader("sec-websocket-extensions"),
    req.getHeader("origin"),
    // An OpenVidu connect URL names its session: the token must be for that session.
    kind === "ivs" ? "" : queryParam(req, "sessionId"),
  );
  // OpenTok client tokens signed by the opentok SDK (docs/VENDORS.md) are verified by vendortokens.ts.
  const openTok = kind === "native" && isOpenTokToken(token);
  if (kind === "native" && !openTok) {
    // The connect hot path: with the signing key and the app's limits in memory (every connect after an app's
    // first), the token is verified and the socket accepted in this call, with no promise between.
    let v: VerifiedToken | undefined;
    try {
      v = verifyTokenCached(token, deps);
    } catch (err) {
      u.rejected(err);
      return;
    }
    const limits = v === undefined ? undefined : deps.apps.peek(v.key.appId);
    if (v !== undefined && limits !== undefined) {
      u.admit(v, limits);
      return;
    }
  }
  u.verifyThenAdmit(token, openTok);
}
