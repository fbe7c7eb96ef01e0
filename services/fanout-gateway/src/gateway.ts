/**
 * The fanout-gateway (DESIGN §5) on uWebSockets.js: token check at upgrade, the request/reply protocol, room
 * subscriptions with replay-then-live switching, client publish acked after JetStream stored it, token expiry,
 * slow-consumer protection, and a drain that tells sockets to reconnect elsewhere (1012).
 */
import { randomBytes } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { Registry } from "prom-client";
import {
  CloseCode,
  FrameError,
  MAX_FRAME_BYTES,
  SwitchboardError,
  WS_PATH,
  messageIdFromOffset,
  parseRequest,
  replyError,
  replyOk,
  type ClientRequest,
  type HistoryRequest,
  type PublishRequest,
  type RefreshRequest,
  type StoredMessage,
  type SubscribeRequest,
} from "@switchboard/protocol";
import {
  STREAM_ROOMS,
  Subjects,
  TokenError,
  encodeBody,
  encodeData,
  verifyToken,
  type KeyRegistry,
  type Logger,
  type NatsRuntime,
  type RevocationRegistry,
  type gatewayMetrics,
  type verifyMetrics,
} from "@switchboard/core";
import { newConn, refusedConn, takeToken, type Conn } from "./connection.js";
import { Room, RoomHub, liveEntryFromStored, topicEvent, type LiveEntry } from "./rooms.js";
import { closeRevokedSockets } from "./revocation.js";
import type { HttpResponse, TemplatedApp, Uws, WebSocket, us_listen_socket } from "./uws.js";

export interface GatewayDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  keys: KeyRegistry;
  revocations: RevocationRegistry;
}

export interface GatewayLimits {
  maxRoomsPerSocket: number;
  publishRate: number;
  publishBurst: number;
  maxOutboundBytes: number;
  /** Malformed frames tolerated before closing with 4008. */
  maxBadFrames: number;
  idleTimeoutS: number;
}

export const DEFAULT_LIMITS: GatewayLimits = {
  maxRoomsPerSocket: 128,
  publishRate: 50,
  publishBurst: 100,
  maxOutboundBytes: 1024 * 1024,
  maxBadFrames: 10,
  idleTimeoutS: 60,
};

export interface GatewayOptions {
  uws: Uws;
  log: Logger;
  registry: Registry;
  metrics: ReturnType<typeof gatewayMetrics> & ReturnType<typeof verifyMetrics>;
  nats: NatsRuntime<GatewayDeps>;
  limits: GatewayLimits;
}

const TOKEN_EXPIRING_LEAD_MS = 30_000;
const SWEEP_INTERVAL_MS = 250;
const HISTORY_TIMEOUT_MS = 5000;
const REPLAY_MAX = 10_000;
const decoder = new TextDecoder();

export class Gateway {
  private readonly app: TemplatedApp;
  private listenSocket: us_listen_socket | undefined;
  private readonly conns = new Set<WebSocket<Conn>>();
  private hub: RoomHub | undefined;
  private sweep: ReturnType<typeof setInterval> | undefined;
  private draining = false;

  constructor(private readonly o: GatewayOptions) {
    const { uws } = o;
    this.app = uws.App();
    this.app.ws<Conn>(WS_PATH, {
      compression: uws.DISABLED,
      maxPayloadLength: MAX_FRAME_BYTES,
      // Sockets are closed with 4009 by the sweep at maxOutboundBytes; uWS's own limit sits far above it so that
      // it never silently skips a socket in a topic publish before the sweep sees it.
      maxBackpressure: o.limits.maxOutboundBytes * 64,
      closeOnBackpressureLimit: 1,
      idleTimeout: o.limits.idleTimeoutS,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => this.upgrade(res, req.getQuery("token") ?? "", req.getHeader("sec-websocket-key"), req.getHeader("sec-websocket-protocol"), req.getHeader("sec-websocket-extensions"), context),
      open: (ws) => this.open(ws),
      message: (ws, message) => this.message(ws, message),
      close: (ws, code) => this.closed(ws, code),
    });
    this.app.get("/healthz", (res) => {
      res.writeHeader("content-type", "application/json").end('{"status":"ok"}');
    });
    this.app.get("/readyz", (res) => {
      if (this.o.nats.ready() && !this.draining) res.writeHeader("content-type", "application/json").end('{"status":"ready"}');
      else
        res
          .writeStatus("503 Service Unavailable")
          .writeHeader("content-type", "application/json")
          .writeHeader("retry-after", "1")
          .end('{"error":{"code":"unavailable","message":"not ready: NATS or JetStream is not available yet, or draining"}}');
    });
    this.app.get("/metrics", (res) => {
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      void this.o.registry.metrics().then((text) => {
        if (!aborted) res.cork(() => res.writeHeader("content-type", this.o.registry.contentType).end(text));
      });
    });
    this.app.any("/*", (res, req) => {
      res
        .writeStatus("404 Not Found")
        .writeHeader("content-type", "application/json")
        .end(JSON.stringify({ error: { code: "not_found", message: `no route ${req.getMethod().toUpperCase()} ${req.getUrl()}` } }));
    });
  }

  /** Called once NATS is ready: rooms can be subscribed from then on. */
  attach(deps: GatewayDeps): void {
    this.hub = new RoomHub({
      nc: deps.nc,
      log: this.o.log,
      publish: (topic, frame) => {
        this.app.publish(topic, frame);
      },
      fetchRange: (app, room, after, upTo) => this.fetchRange(app, room, after, upTo),
      onDelivered: (n, ts) => {
        this.o.metrics.delivered.inc(n);
        if (ts !== undefined) this.o.metrics.latency.observe(Math.max(0, Date.now() - ts) / 1000);
      },
      onGap: () => this.o.metrics.dropped.inc({ reason: "live_gap_healed" }),
    });
    deps.keys.onDelete((kid) => this.closeWhere((c) => c.kid === kid, CloseCode.KICKED, "key revoked"));
    closeRevokedSockets(this, deps.revocations);
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.app.listen(host, port, (socket) => {
        if (!socket) return reject(new Error(`cannot listen on ${host}:${port} (port in use?)`));
        this.listenSocket = socket;
        this.sweep = setInterval(() => this.sweepSlow(), SWEEP_INTERVAL_MS);
        resolve(this.o.uws.us_socket_local_port(socket as never));
      });
    });
  }

  /** Stops accepting, closes every socket with 1012 so clients reconnect elsewhere. */
  async stop(): Promise<void> {
    this.draining = true;
    if (this.listenSocket !== undefined) this.o.uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    if (this.sweep !== undefined) clearInterval(this.sweep);
    for (const ws of [...this.conns]) this.end(ws, CloseCode.SERVER_RESTARTING, "server restarting; reconnect");
    for (const r of this.hub?.all() ?? []) r.close();
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  // ---- socket lifecycle ----

  private upgrade(res: HttpResponse, token: string, key: string, protocol: string, extensions: string, context: unknown): void {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const accept = (conn: Conn) => {
      if (aborted) return;
      res.cork(() => res.upgrade(conn, key, protocol, extensions, context as never));
    };
    if (this.draining || !this.o.nats.ready()) {
      res.cork(() =>
        res
          .writeStatus("503 Service Unavailable")
          .writeHeader("retry-after", "1")
          .end('{"error":{"code":"unavailable","message":"gateway not ready; retry"}}'),
      );
      return;
    }
    const deps = this.o.nats.get();
    verifyToken(decodeURIComponent(token), { keys: deps.keys, revocations: deps.revocations }).then(
      (v) => {
        const id = randomBytes(9).toString("base64url");
        accept(newConn({ id, appId: v.key.appId, kid: v.key.kid, claims: v.claims, permissions: v.permissions }, this.o.limits.publishBurst));
      },
      (err: unknown) => {
        const te = err instanceof TokenError ? err : undefined;
        if (te === undefined) this.o.log.error({ err }, "token verification failed unexpectedly");
        this.o.metrics.verifyFailures.inc({ reason: te?.reason ?? "error" });
        accept(refusedConn(te?.closeCode ?? CloseCode.TOKEN_INVALID, te?.message ?? "token could not be verified"));
      },
    );
  }

  private open(ws: WebSocket<Conn>): void {
    const c = ws.getUserData();
    if (c.refuse !== undefined) {
      this.o.metrics.closes.inc({ code: String(c.refuse.code) });
      c.closed = true;
      ws.end(c.refuse.code, c.refuse.reason);
      return;
    }
    this.conns.add(ws);
    this.o.metrics.connections.inc();
    this.armTimers(ws, c);
    ws.send(
      JSON.stringify({
        type: "connected",
        connectionId: c.id,
        clientId: c.claims.clientId ?? null,
        expiresAt: c.claims.exp * 1000,
        sessionExpiresAt: c.claims.sessionExp === undefined ? null : c.claims.sessionExp * 1000,
        heartbeatMs: (this.o.limits.idleTimeoutS * 1000) / 2,
      }),
    );
  }

  private closed(ws: WebSocket<Conn>, code: number): void {
    const c = ws.getUserData();
    if (c.refuse !== undefined) return;
    const wasOpen = this.conns.delete(ws);
    if (!wasOpen) return;
    if (!c.closed) this.o.metrics.closes.inc({ code: String(code) });
    c.closed = true;
    this.o.metrics.connections.dec();
    for (const t of c.timers) clearTimeout(t);
    for (const [room, sub] of c.subs) {
      this.o.metrics.subscriptions.dec();
      if (sub.events !== undefined) for (const e of sub.events) sub.room.removeFilter(e);
      this.hub?.release(sub.room);
      void room;
    }
    c.subs.clear();
    this.o.metrics.rooms.set(this.hub?.size ?? 0);
  }

  /** Closes a socket with a code, counting it once. */
  private end(ws: WebSocket<Conn>, code: number, reason: string): void {
    const c = ws.getUserData();
    if (c.closed) return;
    c.closed = true;
    this.o.metrics.closes.inc({ code: String(code) });
    ws.end(code, reason);
  }

  closeWhere(pred: (c: Conn) => boolean, code: number, reason: string): number {
    let n = 0;
    for (const ws of [...this.conns]) {
      if (pred(ws.getUserData())) {
        this.end(ws, code, reason);
        n++;
      }
    }
    return n;
  }

  private armTimers(ws: WebSocket<Conn>, c: Conn): void {
    for (const t of c.timers) clearTimeout(t);
    c.timers = [];
    const now = Date.now();
    const expMs = c.claims.exp * 1000;
    const at = (ms: number, fn: () => void) => c.timers.push(setTimeout(fn, Math.max(0, Math.min(ms - now, 2 ** 31 - 1))));
    if (expMs - TOKEN_EXPIRING_LEAD_MS > now)
      at(expMs - TOKEN_EXPIRING_LEAD_MS, () => this.send(ws, JSON.stringify({ type: "token.expiring", expiresAt: expMs })));
    at(expMs, () => this.end(ws, CloseCode.TOKEN_EXPIRED, "token expired"));
    if (c.claims.sessionExp !== undefined) at(c.claims.sessionExp * 1000, () => this.end(ws, CloseCode.SESSION_EXPIRED, "session expired"));
  }

  private send(ws: WebSocket<Conn>, text: string): void {
    const c = ws.getUserData();
    if (c.closed) return;
    ws.send(text);
    if (ws.getBufferedAmount() > this.o.limits.maxOutboundBytes) this.slow(ws);
  }

  private slow(ws: WebSocket<Conn>): void {
    this.o.metrics.dropped.inc({ reason: "slow_consumer" });
    this.end(ws, CloseCode.SLOW_CONSUMER, "slow consumer: outbound buffer over limit");
  }

  private sweepSlow(): void {
    const max = this.o.limits.maxOutboundBytes;
    for (const ws of this.conns) if (ws.getBufferedAmount() > max) this.slow(ws);
  }

  // ---- requests ----

  private message(ws: WebSocket<Conn>, message: ArrayBuffer): void {
    const c = ws.getUserData();
    if (c.closed) return;
    let req: ClientRequest;
    try {
      req = parseRequest(decoder.decode(message));
    } catch (err) {
      const fe = err as FrameError;
      this.o.metrics.requests.inc({ type: "invalid", result: fe.code });
      this.send(ws, replyError(fe.requestId ?? null, fe.code, fe.message));
      if (++c.badFrames > this.o.limits.maxBadFrames) this.end(ws, CloseCode.PROTOCOL_VIOLATION, "too many malformed frames");
      return;
    }
    this.handle(ws, c, req).then(
      (result) => {
        this.o.metrics.requests.inc({ type: req.type, result: "ok" });
        this.send(ws, replyOk(req.id, result));
      },
      (err: unknown) => {
        const e =
          err instanceof SwitchboardError ? err : new SwitchboardError("internal", "internal error; the gateway logged it", { cause: err });
        if (e.code === "internal") this.o.log.error({ err, type: req.type }, "request failed");
        this.o.metrics.requests.inc({ type: req.type, result: e.code });
        this.send(ws, replyError(req.id, e.code, e.message));
      },
    );
  }

  private async handle(ws: WebSocket<Conn>, c: Conn, req: ClientRequest): Promise<Record<string, unknown>> {
    switch (req.type) {
      case "ping":
        return {};
      case "subscribe":
        return this.subscribe(ws, c, req);
      case "unsubscribe":
        return this.unsubscribe(ws, c, req.room);
      case "publish":
        return this.publish(c, req);
      case "history":
        return this.history(c, req);
      case "refresh":
        return this.refresh(ws, c, req);
      default:
        throw new SwitchboardError("bad_request", `${req.type} is not available on this gateway yet`);
    }
  }

  private require(c: Conn, room: string, cap: "subscribe" | "publish" | "presence" | "history" | "metrics" | "moderate"): void {
    if (!c.permissions.can(room, cap))
      throw new SwitchboardError("unauthorized", `your token lacks the ${cap} capability on room ${room}`);
  }

  private async subscribe(ws: WebSocket<Conn>, c: Conn, req: SubscribeRequest): Promise<Record<string, unknown>> {
    this.require(c, req.room, "subscribe");
    if (c.pending.has(req.room)) throw new SwitchboardError("conflict", `a subscribe to ${req.room} is already in progress`);
    if (c.subs.has(req.room)) this.unsubscribe(ws, c, req.room);
    if (c.subs.size + c.pending.size >= this.o.limits.maxRoomsPerSocket)
      throw new SwitchboardError("rate_limited", `a socket may subscribe at most ${this.o.limits.maxRoomsPerSocket} rooms`);
    const hub = this.requireHub();
    const deps = this.o.nats.get();
    c.pending.add(req.room);
    const room = hub.acquire(c.appId, req.room);
    let handedOver = false;
    try {
      await room.ready;
      // Where this socket's stream starts (exclusive): the room's current end, or the client's resume point.
      let from: number;
      let recovered = false;
      let replay: StoredMessage[] = [];
      if (req.since !== undefined && "offset" in req.since) {
        from = req.since.offset;
        const r = await this.replayAfter(deps, c.appId, req.room, from);
        replay = r.messages;
        recovered = r.complete;
      } else if (req.since !== undefined && "last" in req.since) {
        const page = req.since.last === 0 ? [] : (await this.historyPage(c.appId, { room: req.room, limit: req.since.last, direction: "backwards" })).messages;
        replay = page.reverse();
        from = replay.length > 0 ? replay[0]!.offset - 1 : await this.lastOffset(deps, c.appId, req.room);
        recovered = true;
      } else {
        from = await this.lastOffset(deps, c.appId, req.room);
      }
      if (c.closed) return { room: req.room, offset: from, recovered };
      // Switch to live with no gap: whatever the live ring has beyond the replay is sent now, synchronously,
      // before the socket joins the topic; every later message reaches it through the topic.
      let last = replay.length > 0 ? replay[replay.length - 1]!.offset : from;
      const tail = room.since(last);
      if (tail.length > 0 && tail[0]!.prev > last) {
        // The ring does not reach back to `last`: fetch the messages in between first.
        const between = await this.fetchRange(c.appId, req.room, last, tail[0]!.prev);
        replay = replay.concat(between);
        last = replay.length > 0 ? replay[replay.length - 1]!.offset : last;
      }
      if (c.closed) return { room: req.room, offset: from, recovered };
      const events = req.events;
      const wants = (event: string) => events === undefined || events.includes(event);
      ws.cork(() => {
        for (const m of replay) if (wants(m.event)) ws.send(liveEntryFromStored(room.roomJson, m).frame);
        for (const e of room.since(last)) if (wants(e.event)) ws.send(e.frame);
        if (events === undefined) ws.subscribe(room.topic);
        else
          for (const e of events) {
            room.addFilter(e);
            ws.subscribe(topicEvent(c.appId, req.room, e));
          }
      });
      c.subs.set(req.room, { room, events, presence: req.presence ?? false });
      handedOver = true;
      this.o.metrics.subscriptions.inc();
      this.o.metrics.rooms.set(this.requireHub().size);
      const offset = Math.max(last, room.lastOffset, from);
      return { room: req.room, offset, recovered: req.since === undefined ? false : recovered };
    } finally {
      c.pending.delete(req.room);
      if (!handedOver) hub.release(room);
    }
  }

  private unsubscribe(ws: WebSocket<Conn>, c: Conn, roomName: string): Record<string, unknown> {
    const sub = c.subs.get(roomName);
    if (sub === undefined) throw new SwitchboardError("not_subscribed", `not subscribed to room ${roomName}`);
    c.subs.delete(roomName);
    if (!c.closed) {
      if (sub.events === undefined) ws.unsubscribe(sub.room.topic);
      else for (const e of sub.events) ws.unsubscribe(topicEvent(c.appId, roomName, e));
    }
    if (sub.events !== undefined) for (const e of sub.events) sub.room.removeFilter(e);
    this.requireHub().release(sub.room);
    this.o.metrics.subscriptions.dec();
    this.o.metrics.rooms.set(this.requireHub().size);
    return {};
  }

  private async publish(c: Conn, req: PublishRequest): Promise<Record<string, unknown>> {
    this.require(c, req.room, "publish");
    if (!takeToken(c, this.o.limits.publishRate, this.o.limits.publishBurst, Date.now()))
      throw new SwitchboardError("rate_limited", `publish rate over ${this.o.limits.publishRate}/s (burst ${this.o.limits.publishBurst}); slow down`);
    const body = encodeBody({
      event: req.event,
      dataJson: encodeData(req.data),
      timestamp: Date.now(),
      ...(c.claims.clientId !== undefined ? { clientId: c.claims.clientId } : {}),
      ...(c.claims.attributes !== undefined ? { attributes: c.claims.attributes } : {}),
      ...(c.claims.data !== undefined ? { connectionData: c.claims.data } : {}),
    });
    const { js } = this.o.nats.get();
    try {
      const ack = await js.publish(Subjects.room(c.appId, req.room), body, {
        timeout: 2000,
        ...(req.idempotencyKey !== undefined ? { msgID: `${c.appId}:${req.idempotencyKey}` } : {}),
      });
      return { id: messageIdFromOffset(ack.seq), offset: ack.seq };
    } catch (err) {
      throw new SwitchboardError("unavailable", "JetStream could not store the message; retry", { cause: err });
    }
  }

  private async history(c: Conn, req: HistoryRequest): Promise<Record<string, unknown>> {
    this.require(c, req.room, "history");
    const { type: _t, id: _i, ...query } = req;
    const page = await this.historyPage(c.appId, query);
    return { messages: page.messages, next: page.next };
  }

  private async refresh(ws: WebSocket<Conn>, c: Conn, req: RefreshRequest): Promise<Record<string, unknown>> {
    const deps = this.o.nats.get();
    let v;
    try {
      v = await verifyToken(req.token, { keys: deps.keys, revocations: deps.revocations });
    } catch (err) {
      if (err instanceof TokenError) {
        this.o.metrics.verifyFailures.inc({ reason: err.reason });
        throw new SwitchboardError("unauthorized", `refresh refused: ${err.message}`);
      }
      throw err;
    }
    if (v.key.appId !== c.appId || (v.claims.clientId ?? null) !== (c.claims.clientId ?? null))
      throw new SwitchboardError("unauthorized", "refresh token must be for the same app and clientId");
    const sessionExp = c.claims.sessionExp;
    c.claims = sessionExp === undefined ? v.claims : { ...v.claims, sessionExp: Math.min(sessionExp, v.claims.sessionExp ?? sessionExp) };
    c.permissions = v.permissions;
    c.kid = v.key.kid;
    this.armTimers(ws, c);
    for (const room of [...c.subs.keys()]) {
      if (!c.permissions.can(room, "subscribe")) {
        this.unsubscribe(ws, c, room);
        this.send(ws, JSON.stringify({ type: "unsubscribed", room, reason: "permission removed by token refresh" }));
      }
    }
    return { expiresAt: c.claims.exp * 1000 };
  }

  // ---- history over NATS ----

  private requireHub(): RoomHub {
    if (this.hub === undefined) throw new SwitchboardError("unavailable", "gateway not ready; retry");
    return this.hub;
  }

  private async lastOffset(deps: GatewayDeps, app: string, room: string): Promise<number> {
    const m = await deps.jsm.direct.getMessage(STREAM_ROOMS, { last_by_subj: Subjects.room(app, room) });
    return m === null ? 0 : m.seq;
  }

  private async historyPage(app: string, query: Record<string, unknown>): Promise<{ messages: StoredMessage[]; next: string | null }> {
    const { nc } = this.o.nats.get();
    let reply;
    try {
      reply = await nc.request(Subjects.history(app), JSON.stringify(query), { timeout: HISTORY_TIMEOUT_MS });
    } catch (err) {
      throw new SwitchboardError("unavailable", "the history service did not answer; retry", { cause: err });
    }
    const body = reply.json<{ messages: StoredMessage[]; next: string | null } | { error: { code: string; message: string } }>();
    if ("error" in body)
      throw new SwitchboardError(body.error.code === "bad_request" ? "bad_request" : "unavailable", `history: ${body.error.message}`);
    return body;
  }

  /** Messages after `after` up to `upTo` inclusive, oldest first. */
  private async fetchRange(app: string, room: string, after: number, upTo: number): Promise<StoredMessage[]> {
    const out: StoredMessage[] = [];
    let next: string | null = null;
    do {
      const page = await this.historyPage(app, next === null ? { room, direction: "forwards", limit: 100, after, before: upTo + 1 } : { room, next, limit: 100 });
      out.push(...page.messages);
      next = page.next;
    } while (next !== null && out.length < REPLAY_MAX);
    return out;
  }

  /** Everything after `after` that history holds now; `complete` is false when the resume window is gone. */
  private async replayAfter(deps: GatewayDeps, app: string, room: string, after: number): Promise<{ messages: StoredMessage[]; complete: boolean }> {
    const info = await deps.jsm.streams.info(STREAM_ROOMS);
    const firstSeq = info.state.first_seq;
    const messages: StoredMessage[] = [];
    let next: string | null = null;
    do {
      const page = await this.historyPage(app, next === null ? { room, direction: "forwards", limit: 100, after } : { room, next, limit: 100 });
      messages.push(...page.messages);
      next = page.next;
    } while (next !== null && messages.length < REPLAY_MAX);
    return { messages, complete: after + 1 >= firstSeq && next === null };
  }
}

export type { LiveEntry, Room };
