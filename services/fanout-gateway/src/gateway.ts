/**
 * The fanout-gateway's sockets on uWebSockets.js (docs/PROTOCOL.md): the upgrade (upgrade.ts), the socket set,
 * token expiry timers, slow-consumer protection, and dispatch: each frame is decoded by the socket's protocol
 * adapter (adapters/), handled by the handler of its type (handlers/) and answered through the same adapter.
 * Everything that needs NATS is the request layer (layer.ts), built once NATS is ready; HTTP routes are http.ts.
 * Native sockets connect at WS_PATH; IVS chat sockets at `/` (adapters/ivs.ts, served by ivs/requests.ts).
 * Stopping closes every socket with 1012 so that clients reconnect elsewhere.
 */
import {
  CloseCode,
  FrameError,
  SOCKET_REQUEST_BURST,
  SOCKET_REQUEST_RATE,
  SwitchboardError,
  WS_PATH,
  type ClientRequest,
  type RequestOf,
  type RequestType,
  type ResultOf,
} from "@switchboard/protocol";
import { APP_LIMIT_BOUNDS, takeOne } from "@switchboard/core";
import { own, type Conn, type UserData } from "./connection.js";
import { ExpiryWheel } from "./expiry.js";
import type { GatewayOptions } from "./deps.js";
import { handlers, dropSub, type Handler, type HandlerContext } from "./handlers/index.js";
import { registerHttpRoutes } from "./http.js";
import { RequestLayer, type Sockets } from "./layer.js";
import { joinIvsRoom, serveIvsFrame } from "./ivs/requests.js";
import { upgradeSocket, type SocketProtocol } from "./upgrade.js";
import type { TemplatedApp, WebSocket, WebSocketBehavior, us_listen_socket } from "./uws.js";

const SWEEP_INTERVAL_MS = 250;
/**
 * uWS drops a connection whose frame is over its maxPayloadLength without a close frame (the client sees 1006), so
 * uWS takes frames up to this size and the gateway itself closes with 1009 past MAX_FRAME_BYTES. Frames above this
 * hard limit still end the connection abruptly.
 */
export const FRAME_HARD_LIMIT = 1024 * 1024;

export class Gateway {
  private readonly app: TemplatedApp;
  private listenSocket: us_listen_socket | undefined;
  /**
   * Every open socket, by connection id. A newer socket with the same id (OpenVidu's con_…) replaces an older one,
   * which is closing by then. (A Set of sockets beside this map cost a hash insert and delete per connect.)
   */
  private readonly byId = new Map<string, Conn>();
  /** Open sockets per app, held to each app's maxConnections. */
  private readonly perApp = new Map<string, number>();
  /** Built once NATS is ready; sockets are accepted only from then on. */
  private layer: RequestLayer | undefined;
  private readonly sockets: Sockets;
  private sweep: ReturnType<typeof setInterval> | undefined;
  private draining = false;
  /** Token and session expiry of every socket (ticked by the sweep). */
  private readonly wheel = new ExpiryWheel({
    expiring: (c, expMs) => {
      const frame = c.adapter.tokenExpiring(expMs);
      if (frame !== undefined) this.send(c, frame);
    },
    expired: (c) => this.end(c, CloseCode.TOKEN_EXPIRED, "token expired"),
    sessionExpired: (c) => this.end(c, CloseCode.SESSION_EXPIRED, "session expired"),
  });

  constructor(private readonly o: GatewayOptions) {
    const { uws } = o;
    this.app = uws.App();
    const behavior = (protocol: SocketProtocol): WebSocketBehavior<UserData> => ({
      compression: uws.DISABLED,
      maxPayloadLength: FRAME_HARD_LIMIT,
      // Sockets are closed with 4009 by the sweep at maxOutboundBytes; uWS's own limit sits far above it so that
      // it never silently skips a socket in a topic publish before the sweep sees it (for any app's limit).
      maxBackpressure: Math.max(o.limits.maxOutboundBytes, APP_LIMIT_BOUNDS.maxOutboundBytes.max) * 64,
      closeOnBackpressureLimit: 1,
      idleTimeout: o.limits.idleTimeoutS,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => {
        const layer = this.draining || !o.nats.ready() ? undefined : this.layer;
        upgradeSocket(res, req, context, layer?.deps, o, protocol);
      },
      open: (ws) => this.open(ws),
      message: (ws, message) => this.message(ws, message),
      close: (ws, code) => this.closed(ws, code),
    });
    this.app.ws<UserData>(WS_PATH, behavior("native"));
    this.app.ws<UserData>("/", behavior("ivs"));
    registerHttpRoutes(this.app, { ready: () => o.nats.ready() && !this.draining, registry: o.registry });
    this.sockets = {
      all: () => this.byId.values(),
      byId: (id) => this.byId.get(id),
      closeWhere: (pred, code, reason) => this.closeWhere(pred, code, reason),
      send: (conn, frame) => this.send(conn, frame),
      armTimers: (conn) => this.armTimers(conn),
      publish: (topic, frame) => {
        this.app.publish(topic, frame);
      },
      subscribers: (topic) => this.app.numSubscribers(topic),
    };
    // Rejects only when the process stops before NATS was ready: nothing to build then.
    o.nats.whenReady().then(
      (deps) => {
        if (!this.draining) this.layer = new RequestLayer(deps, { log: o.log, metrics: o.metrics, sockets: this.sockets });
      },
      () => undefined,
    );
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.app.listen(host, port, (socket) => {
        if (!socket) {
          reject(new Error(`cannot listen on ${host}:${port} (port in use?)`));
          return;
        }
        this.listenSocket = socket;
        this.sweep = setInterval(() => this.sweepSlow(), SWEEP_INTERVAL_MS);
        resolve(this.o.uws.us_socket_local_port(socket));
      });
    });
  }

  /** Stops accepting, closes every socket with 1012 so clients reconnect elsewhere. */
  stop(): Promise<void> {
    this.draining = true;
    if (this.listenSocket !== undefined) this.o.uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    if (this.sweep !== undefined) clearInterval(this.sweep);
    for (const c of [...this.byId.values()]) this.end(c, CloseCode.SERVER_RESTARTING, "server restarting; reconnect");
    this.layer?.stop();
    return Promise.resolve();
  }

  get connectionCount(): number {
    return this.byId.size;
  }

  // ---- socket lifecycle ----

  private open(ws: WebSocket<UserData>): void {
    const c = ws.getUserData().conn;
    if (c.refuse !== undefined) {
      this.o.metrics.closes.inc({ code: String(c.refuse.code) });
      c.closed = true;
      ws.end(c.refuse.code, c.refuse.reason);
      return;
    }
    const held = this.perApp.get(c.appId) ?? 0;
    if (held >= c.limits.maxConnections) {
      // One app's flood must not take the gateway from the others: past its limit a socket is closed at once.
      this.o.metrics.closes.inc({ code: String(CloseCode.TRY_AGAIN_LATER) });
      c.closed = true;
      ws.end(CloseCode.TRY_AGAIN_LATER, `this app has ${held} sockets on this gateway, its limit; try again later`);
      return;
    }
    this.perApp.set(c.appId, held + 1);
    c.socket = ws;
    // A connection id known before the socket (OpenVidu's con_…) names one socket: a newer one replaces the older.
    const older = this.byId.get(c.id);
    if (older !== undefined) this.end(older, CloseCode.KICKED, "replaced by a newer socket of the same connection");
    this.byId.set(c.id, c);
    const open = this.o.metrics.openSockets;
    open[c.adapter.name] = (open[c.adapter.name] ?? 0) + 1;
    this.armTimers(c);
    const greeting = c.adapter.connected({
      connectionId: c.id,
      clientId: c.claims.clientId ?? null,
      expiresAt: c.claims.exp * 1000,
      sessionExpiresAt: c.claims.sessionExp === undefined ? null : c.claims.sessionExp * 1000,
      heartbeatMs: (this.o.limits.idleTimeoutS * 1000) / 2,
    });
    if (greeting !== undefined) ws.send(greeting);
    const layer = this.layer;
    if (c.ivs !== undefined && layer !== undefined)
      joinIvsRoom(layer.ctx, c, { end: (conn, code, reason) => this.end(conn, code, reason) });
  }

  private closed(ws: WebSocket<UserData>, code: number): void {
    const c = ws.getUserData().conn;
    if (c.refuse !== undefined) return;
    // c.socket is set when open() admits the socket (counted per app, in byId); refused ones never get it.
    const wasOpen = c.socket === ws;
    if (wasOpen) {
      const held = (this.perApp.get(c.appId) ?? 1) - 1;
      if (held > 0) this.perApp.set(c.appId, held);
      else this.perApp.delete(c.appId);
    }
    const layer = this.layer;
    // Sockets open only once the layer exists (the upgrade refuses before).
    if (!wasOpen || layer === undefined) return;
    if (this.byId.get(c.id) === c) this.byId.delete(c.id);
    if (!c.closed) this.o.metrics.closes.inc({ code: String(code) });
    c.closed = true;
    const open = this.o.metrics.openSockets;
    open[c.adapter.name] = (open[c.adapter.name] ?? 1) - 1;
    this.wheel.disarm(c);
    const hadSubs = c.subs.size > 0;
    for (const [room, sub] of c.subs) dropSub(layer.ctx, c, room, sub);
    for (const room of c.presence.keys()) void layer.ctx.presence.leave(c.appId, room, c.id);
    own.clear(c);
    if (hadSubs) this.o.metrics.rooms.set(layer.hub.size);
  }

  /** Closes a socket with a code, counting it once. */
  private end(c: Conn, code: number, reason: string): void {
    if (c.closed) return;
    c.closed = true;
    this.o.metrics.closes.inc({ code: String(code) });
    const last = c.adapter.closing(code, reason);
    if (last !== undefined) c.socket.send(last);
    c.socket.end(code, reason);
  }

  private closeWhere(pred: (c: Conn) => boolean, code: number, reason: string): number {
    let n = 0;
    for (const c of [...this.byId.values()]) {
      if (pred(c)) {
        this.end(c, code, reason);
        n++;
      }
    }
    return n;
  }

  private armTimers(c: Conn): void {
    if (!c.closed) this.wheel.arm(c);
  }

  private send(c: Conn, frame: string): void {
    if (c.closed) return;
    c.socket.send(frame);
    if (c.socket.getBufferedAmount() > c.limits.maxOutboundBytes) this.slow(c);
  }

  private slow(c: Conn): void {
    this.o.metrics.dropped.inc({ reason: "slow_consumer" });
    this.end(c, CloseCode.SLOW_CONSUMER, "slow consumer: outbound buffer over limit");
  }

  private sweepSlow(): void {
    this.wheel.tick();
    for (const c of this.byId.values()) if (c.socket.getBufferedAmount() > c.limits.maxOutboundBytes) this.slow(c);
  }

  // ---- dispatch ----

  private message(ws: WebSocket<UserData>, frame: ArrayBuffer): void {
    const c = ws.getUserData().conn;
    const layer = this.layer;
    if (c.closed || layer === undefined) return;
    if (frame.byteLength > c.limits.maxFrameBytes) {
      this.end(c, CloseCode.FRAME_TOO_LARGE, `frame over ${c.limits.maxFrameBytes} bytes`);
      return;
    }
    if (c.ivs !== undefined) {
      serveIvsFrame(layer.ctx, c, frame, {
        fanout: layer.ivs,
        end: (conn, code, reason) => this.end(conn, code, reason),
        maxBadFrames: this.o.limits.maxBadFrames,
      });
      return;
    }
    let req: ClientRequest;
    try {
      req = c.adapter.decode(frame);
    } catch (err) {
      const fe = err instanceof FrameError ? err : new FrameError(null, "bad_request", "frame could not be read");
      this.o.metrics.requests.inc({ type: "invalid", result: fe.code });
      this.send(c, c.adapter.error(fe.requestId, fe));
      if (++c.badFrames > this.o.limits.maxBadFrames) this.end(c, CloseCode.PROTOCOL_VIOLATION, "too many malformed frames");
      return;
    }
    if (req.type !== "publish" && req.type !== "ping" && !takeOne(c.requestBucket, SOCKET_REQUEST_RATE, SOCKET_REQUEST_BURST, Date.now())) {
      this.o.metrics.requests.inc({ type: req.type, result: "rate_limited" });
      const message = `over ${SOCKET_REQUEST_RATE} requests per second on this socket (burst ${SOCKET_REQUEST_BURST}); slow down`;
      this.send(c, c.adapter.error(req.id, new SwitchboardError("rate_limited", message)));
      return;
    }
    run(layer.ctx, c, req).then(
      (result) => {
        this.o.metrics.requests.inc({ type: req.type, result: "ok" });
        this.send(c, c.adapter.reply(req.id, req.type, result));
      },
      (err: unknown) => {
        const e =
          err instanceof SwitchboardError ? err : new SwitchboardError("internal", "internal error; the gateway logged it", { cause: err });
        if (e.code === "internal") this.o.log.error({ err, type: req.type }, "request failed");
        this.o.metrics.requests.inc({ type: req.type, result: e.code });
        this.send(c, c.adapter.error(req.id, e));
      },
    );
  }
}

/** Runs the handler of the request's type (a throw becomes a rejection). */
async function run<K extends RequestType>(ctx: HandlerContext, conn: Conn, req: RequestOf<K>): Promise<ResultOf<K>> {
  const handler: Handler<K> = handlers[req.type as K];
  return handler(ctx, conn, req);
}
