/**
 * The fanout-gateway (DESIGN §5) on uWebSockets.js: token check at upgrade, the request/reply protocol, room
 * subscriptions with replay-then-live switching, client publish acked after JetStream stored it, presence,
 * occupancy and moderation across gateways (over NATS), token expiry, slow-consumer protection, and a drain that
 * tells sockets to reconnect elsewhere (1012).
 */
import { randomBytes } from "node:crypto";
import {
  CloseCode,
  FrameError,
  SwitchboardError,
  WS_PATH,
  messageIdFromOffset,
  parseRequest,
  replyError,
  replyOk,
  type ClientRequest,
  type HistoryRequest,
  type HistoryResult,
  type ModerateDeleteRequest,
  type ModerateTargetRequest,
  type PresenceRequest,
  type PublishRequest,
  type RefreshRequest,
  type StoredMessage,
  type SubscribeRequest,
} from "@switchboard/protocol";
import {
  APP_LIMIT_BOUNDS,
  STREAM_ROOMS,
  Subjects,
  TokenError,
  deleteStoredMessage,
  encodeBody,
  encodeData,
  gatherOccupancy,
  lastOffsetOf,
  natsHistoryClient,
  sendControl,
  verifyToken,
  type ControlCommand,
  type HistoryClient,
  type HistoryQuery,
  type OccupancyReply,
} from "@switchboard/core";
import { newConn, refusedConn, takeToken, type Conn, type RoomSub } from "./connection.js";
import { serveControl } from "./control.js";
import type { GatewayDeps, GatewayOptions } from "./deps.js";
import { registerHttpRoutes, writeError } from "./http.js";
import { originIn } from "./origin.js";
import { PresenceHub, presenceData } from "./presence.js";
import { Room, RoomHub, liveEntryFromStored, topicEvent, topicMeta, topicPresence, type LiveEntry } from "./rooms.js";
import { closeRevokedSockets } from "./revocation.js";
import type { HttpResponse, TemplatedApp, WebSocket, us_listen_socket } from "./uws.js";

const TOKEN_EXPIRING_LEAD_MS = 30_000;
/** Longest delay setTimeout holds (2^31-1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;
const SWEEP_INTERVAL_MS = 250;
/**
 * uWS drops a connection whose frame is over its maxPayloadLength without a close frame (the client sees 1006), so
 * uWS takes frames up to this size and the gateway itself closes with 1009 past MAX_FRAME_BYTES. Frames above this
 * hard limit still end the connection abruptly.
 */
export const FRAME_HARD_LIMIT = 1024 * 1024;
const decoder = new TextDecoder();

export class Gateway {
  private readonly app: TemplatedApp;
  private listenSocket: us_listen_socket | undefined;
  private readonly conns = new Set<WebSocket<Conn>>();
  private readonly byId = new Map<string, WebSocket<Conn>>();
  private hub: RoomHub | undefined;
  private presence: PresenceHub | undefined;
  private historyClient: HistoryClient | undefined;
  private controlSubs: Array<{ unsubscribe(): void }> = [];
  /** Mutes by clientId, `app\u0001room\u0001clientId`: every gateway hears them, so a reconnect stays muted. */
  private sweep: ReturnType<typeof setInterval> | undefined;
  private draining = false;

  constructor(private readonly o: GatewayOptions) {
    const { uws } = o;
    this.app = uws.App();
    this.app.ws<Conn>(WS_PATH, {
      compression: uws.DISABLED,
      maxPayloadLength: FRAME_HARD_LIMIT,
      // Sockets are closed with 4009 by the sweep at maxOutboundBytes; uWS's own limit sits far above it so that
      // it never silently skips a socket in a topic publish before the sweep sees it (for any app's limit).
      maxBackpressure: Math.max(o.limits.maxOutboundBytes, APP_LIMIT_BOUNDS.maxOutboundBytes.max) * 64,
      closeOnBackpressureLimit: 1,
      idleTimeout: o.limits.idleTimeoutS,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) =>
        this.upgrade(
          res,
          req.getQuery("token") ?? "",
          req.getHeader("origin"),
          req.getHeader("sec-websocket-key"),
          req.getHeader("sec-websocket-protocol"),
          req.getHeader("sec-websocket-extensions"),
          context,
        ),
      open: (ws) => this.open(ws),
      message: (ws, message) => this.message(ws, message),
      close: (ws, code) => this.closed(ws, code),
    });
    registerHttpRoutes(this.app, { ready: () => this.o.nats.ready() && !this.draining, registry: o.registry });
  }

  /** Called once NATS is ready: rooms can be subscribed from then on. */
  attach(deps: GatewayDeps): void {
    this.historyClient = natsHistoryClient(deps.nc);
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
    this.presence = new PresenceHub({
      nc: deps.nc,
      js: deps.js,
      jsm: deps.jsm,
      kv: deps.presence,
      log: this.o.log,
      publish: (topic, frame) => {
        this.app.publish(topic, frame);
      },
    });
    this.controlSubs = serveControl(
      deps.nc,
      { act: (app, cmd) => this.act(app, cmd), occupancy: (app, room) => this.localOccupancy(app, room) },
      this.o.log,
    );
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
    for (const s of this.controlSubs) s.unsubscribe();
    this.presence?.stop();
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  // ---- socket lifecycle ----

  private upgrade(
    res: HttpResponse,
    token: string,
    origin: string,
    key: string,
    protocol: string,
    extensions: string,
    context: unknown,
  ): void {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const accept = (conn: Conn) => {
      if (aborted) return;
      res.cork(() => res.upgrade(conn, key, protocol, extensions, context as never));
    };
    /** Refuses the upgrade with 503 + Retry-After: a passing condition on our side, not the client's fault. */
    const unavailable = (message: string) => {
      if (aborted) return;
      res.cork(() => writeError(res, new SwitchboardError("unavailable", message), "Service Unavailable"));
    };
    if (this.draining || !this.o.nats.ready()) {
      unavailable("gateway not ready; retry");
      return;
    }
    const deps = this.o.nats.get();
    // uWS getQuery already percent-decodes; decoding again would throw on a stray "%" (and crash the process).
    verifyToken(token, { keys: deps.keys, revocations: deps.revocations }).then(
      (v) =>
        deps.apps.get(v.key.appId).then(
          (limits) => {
            if (!originIn(limits.origins, origin)) {
              if (aborted) return;
              this.o.metrics.verifyFailures.inc({ reason: "origin" });
              const err = new SwitchboardError("unauthorized", `origin ${origin.slice(0, 100)} is not on this app's allow-list`, {
                status: 403,
              });
              res.cork(() => writeError(res, err, "Forbidden"));
              return;
            }
            const id = randomBytes(9).toString("base64url");
            accept(newConn({ id, appId: v.key.appId, kid: v.key.kid, claims: v.claims, permissions: v.permissions, limits }));
          },
          (err: unknown) => {
            this.o.log.warn({ err: (err as Error).message, app: v.key.appId }, "cannot read the app record at upgrade");
            unavailable("app settings could not be read; retry");
          },
        ),
      (err: unknown) => {
        if (!(err instanceof TokenError) && err instanceof SwitchboardError && err.code === "unavailable") {
          // The key could not be read (NATS down): not the token's fault, so answer like any not-ready moment.
          this.o.log.warn({ err: err.message }, "token key unavailable at upgrade");
          unavailable("gateway cannot read API keys right now; retry");
          return;
        }
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
    this.byId.set(c.id, ws);
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
    this.byId.delete(c.id);
    if (!c.closed) this.o.metrics.closes.inc({ code: String(code) });
    c.closed = true;
    this.o.metrics.connections.dec();
    for (const t of c.timers) clearTimeout(t);
    for (const [room, sub] of c.subs) this.dropSub(ws, c, room, sub);
    c.subs.clear();
    for (const room of c.presence.keys()) void this.presence?.leave(c.appId, room, c.id);
    c.presence.clear();
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
    // setTimeout holds at most 2^31-1 ms (24.8 days) and tokens may live 30 days: a capped timer re-arms itself.
    const at = (ms: number, fn: () => void): void => {
      const wait = ms - Date.now();
      if (wait <= MAX_TIMER_MS) c.timers.push(setTimeout(fn, Math.max(0, wait)));
      else c.timers.push(setTimeout(() => at(ms, fn), MAX_TIMER_MS));
    };
    if (expMs - TOKEN_EXPIRING_LEAD_MS > now)
      at(expMs - TOKEN_EXPIRING_LEAD_MS, () => this.send(ws, JSON.stringify({ type: "token.expiring", expiresAt: expMs })));
    at(expMs, () => this.end(ws, CloseCode.TOKEN_EXPIRED, "token expired"));
    if (c.claims.sessionExp !== undefined) at(c.claims.sessionExp * 1000, () => this.end(ws, CloseCode.SESSION_EXPIRED, "session expired"));
  }

  private send(ws: WebSocket<Conn>, text: string): void {
    const c = ws.getUserData();
    if (c.closed) return;
    ws.send(text);
    if (ws.getBufferedAmount() > c.limits.maxOutboundBytes) this.slow(ws);
  }

  private slow(ws: WebSocket<Conn>): void {
    this.o.metrics.dropped.inc({ reason: "slow_consumer" });
    this.end(ws, CloseCode.SLOW_CONSUMER, "slow consumer: outbound buffer over limit");
  }

  private sweepSlow(): void {
    for (const ws of this.conns) if (ws.getBufferedAmount() > ws.getUserData().limits.maxOutboundBytes) this.slow(ws);
  }

  // ---- requests ----

  private message(ws: WebSocket<Conn>, message: ArrayBuffer): void {
    const c = ws.getUserData();
    if (c.closed) return;
    if (message.byteLength > c.limits.maxFrameBytes) {
      this.end(ws, CloseCode.FRAME_TOO_LARGE, `frame over ${c.limits.maxFrameBytes} bytes`);
      return;
    }
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
      case "presence.join":
      case "presence.update":
        return this.presenceEnter(c, req);
      case "presence.leave":
        return this.presenceLeave(c, req);
      case "presence.get":
        this.require(c, req.room, "presence");
        return { members: await this.requirePresence().members(c.appId, req.room) };
      case "occupancy":
        return this.occupancy(c, req.room);
      case "moderate.disconnect":
      case "moderate.mute":
      case "moderate.unmute":
        return this.moderateTarget(c, req);
      case "moderate.delete":
        return this.moderateDelete(c, req);
    }
  }

  private require(c: Conn, room: string, cap: "subscribe" | "publish" | "presence" | "history" | "metrics" | "moderate"): void {
    if (!c.permissions.can(room, cap)) throw new SwitchboardError("unauthorized", `your token lacks the ${cap} capability on room ${room}`);
  }

  private async subscribe(ws: WebSocket<Conn>, c: Conn, req: SubscribeRequest): Promise<Record<string, unknown>> {
    this.require(c, req.room, "subscribe");
    if (req.presence === true) this.require(c, req.room, "presence");
    if (c.pending.has(req.room)) throw new SwitchboardError("conflict", `a subscribe to ${req.room} is already in progress`);
    if (c.subs.has(req.room)) this.unsubscribe(ws, c, req.room);
    if (c.subs.size + c.pending.size >= c.limits.maxRoomsPerSocket)
      throw new SwitchboardError(
        "rate_limited",
        `a socket may subscribe at most ${c.limits.maxRoomsPerSocket} rooms (maxRoomsPerSocket); unsubscribe one first`,
      );
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
        const page =
          req.since.last === 0
            ? []
            : (await this.historyPage(c.appId, { room: req.room, limit: req.since.last, direction: "backwards" })).messages;
        replay = page.reverse();
        from = replay.length > 0 ? replay[0]!.offset - 1 : await this.lastOffset(deps, c.appId, req.room);
        recovered = true;
      } else {
        from = await this.lastOffset(deps, c.appId, req.room);
      }
      if (c.closed) return { room: req.room, offset: from, recovered };
      // Switch to live with no gap: whatever the live ring has beyond the replay is sent now, synchronously,
      // before the socket joins the topic; every later message reaches it through the topic.
      // A heal in progress would re-deliver what the replay already holds: let it finish first.
      await room.settled();
      let last = replay.length > 0 ? replay[replay.length - 1]!.offset : from;
      const tail = room.since(last);
      if (tail.length > 0 && tail[0]!.prev > last) {
        // The ring does not reach back to `last`: fetch the messages in between first.
        const between = await this.fetchRange(c.appId, req.room, last, tail[0]!.prev);
        replay = replay.concat(between);
        last = replay.length > 0 ? replay[replay.length - 1]!.offset : last;
      }
      await room.settled();
      if (c.closed) return { room: req.room, offset: from, recovered };
      const events = req.events;
      const presence = req.presence ?? false;
      const wants = (event: string) => events === undefined || events.includes(event);
      ws.cork(() => {
        for (const m of replay) if (wants(m.event)) ws.send(liveEntryFromStored(room.roomJson, m).frame);
        for (const e of room.since(last)) if (wants(e.event)) ws.send(e.frame);
        if (events === undefined) ws.subscribe(room.topic);
        else {
          for (const e of events) {
            room.addFilter(e);
            ws.subscribe(topicEvent(c.appId, req.room, e));
          }
          ws.subscribe(topicMeta(c.appId, req.room));
        }
        if (presence) ws.subscribe(topicPresence(c.appId, req.room));
      });
      if (presence) this.requirePresence().watch(c.appId, req.room);
      c.subs.set(req.room, { room, events, presence });
      room.subscribers++;
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
    this.dropSub(ws, c, roomName, sub);
    this.o.metrics.rooms.set(this.requireHub().size);
    return {};
  }

  /** Releases what a subscription holds: its uWS topics (while the socket is open), filters, presence watch, room. */
  private dropSub(ws: WebSocket<Conn>, c: Conn, roomName: string, sub: RoomSub): void {
    if (!c.closed) {
      if (sub.events === undefined) ws.unsubscribe(sub.room.topic);
      else {
        for (const e of sub.events) ws.unsubscribe(topicEvent(c.appId, roomName, e));
        ws.unsubscribe(topicMeta(c.appId, roomName));
      }
      if (sub.presence) ws.unsubscribe(topicPresence(c.appId, roomName));
    }
    if (sub.events !== undefined) for (const e of sub.events) sub.room.removeFilter(e);
    if (sub.presence) this.presence?.unwatch(c.appId, roomName);
    sub.room.subscribers--;
    this.hub?.release(sub.room);
    this.o.metrics.subscriptions.dec();
  }

  private async publish(c: Conn, req: PublishRequest): Promise<Record<string, unknown>> {
    this.require(c, req.room, "publish");
    if (c.muted.has(req.room) || (c.claims.clientId !== undefined && this.o.nats.get().mutes.has(c.appId, req.room, c.claims.clientId)))
      throw new SwitchboardError("unauthorized", `you are muted in room ${req.room} by a moderator; publish refused until unmuted`);
    if (!takeToken(c, c.limits.publishRate, c.limits.publishBurst, Date.now()))
      throw new SwitchboardError("rate_limited", `publish rate over ${c.limits.publishRate}/s (burst ${c.limits.publishBurst}); slow down`);
    const body = encodeBody({
      event: req.event,
      dataJson: encodeData(req.data),
      timestamp: Date.now(),
      ...(c.claims.clientId !== undefined ? { clientId: c.claims.clientId } : {}),
      ...(c.claims.attributes !== undefined ? { attributes: c.claims.attributes } : {}),
      ...(c.claims.data !== undefined ? { connectionData: c.claims.data } : {}),
    });
    const { publisher } = this.o.nats.get();
    try {
      const ack = await publisher.publish(Subjects.room(c.appId, req.room), body, {
        msgID: req.idempotencyKey === undefined ? undefined : `${c.appId}:${req.idempotencyKey}`,
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
    for (const room of [...c.presence.keys()]) {
      if (!c.permissions.can(room, "presence")) {
        c.presence.delete(room);
        await this.requirePresence().leave(c.appId, room, c.id);
      }
    }
    return { expiresAt: c.claims.exp * 1000 };
  }

  // ---- presence, occupancy, moderation ----

  private requirePresence(): PresenceHub {
    if (this.presence === undefined) throw new SwitchboardError("unavailable", "gateway not ready; retry");
    return this.presence;
  }

  private async presenceEnter(c: Conn, req: PresenceRequest): Promise<Record<string, unknown>> {
    this.require(c, req.room, "presence");
    const clientId = c.claims.clientId;
    if (clientId === undefined) throw new SwitchboardError("bad_request", "presence needs a token with a clientId");
    const data = presenceData(req.data);
    const hub = this.requirePresence();
    const before = c.presence.get(req.room);
    const joinedAt = before ?? Date.now();
    c.presence.set(req.room, joinedAt);
    await hub.enter(c.appId, req.room, { clientId, connectionId: c.id, data, joinedAt }, before === undefined ? "join" : "update");
    // Closed meanwhile: the close handler's leave may have run before the put landed.
    if (c.closed) await hub.leave(c.appId, req.room, c.id);
    return {};
  }

  private async presenceLeave(c: Conn, req: PresenceRequest): Promise<Record<string, unknown>> {
    this.require(c, req.room, "presence");
    if (c.presence.delete(req.room)) await this.requirePresence().leave(c.appId, req.room, c.id);
    return {};
  }

  private async occupancy(c: Conn, room: string): Promise<Record<string, unknown>> {
    this.require(c, room, "metrics");
    const { nc } = this.o.nats.get();
    const [counts, members] = await Promise.all([
      gatherOccupancy(nc, c.appId, room, this.o.log),
      this.requirePresence().members(c.appId, room),
    ]);
    return { connections: counts.connections, subscribers: counts.subscribers, presenceMembers: members.length };
  }

  /** This gateway's share of a room's occupancy: subscribed sockets, plus presence members not subscribed. */
  private localOccupancy(app: string, room: string): OccupancyReply {
    const subscribers = this.hub?.get(app, room)?.subscribers ?? 0;
    let connections = subscribers;
    for (const id of this.presence?.localMembers(app, room)?.keys() ?? []) {
      if (this.byId.get(id)?.getUserData().subs.has(room) !== true) connections++;
    }
    return { connections, subscribers };
  }

  private async moderateTarget(c: Conn, req: ModerateTargetRequest): Promise<Record<string, unknown>> {
    this.require(c, req.room, "moderate");
    const target = req.clientId !== undefined ? { clientId: req.clientId } : { connectionId: req.connectionId ?? "" };
    const cmd: ControlCommand =
      req.type === "moderate.disconnect"
        ? { op: "disconnect", room: req.room, ...target }
        : { op: req.type === "moderate.mute" ? "mute" : "unmute", room: req.room, ...target };
    if (cmd.op !== "disconnect" && req.clientId !== undefined) {
      try {
        await this.o.nats.get().mutes.persist(c.appId, req.room, req.clientId, cmd.op === "mute");
      } catch (err) {
        throw new SwitchboardError("unavailable", "the mute could not be stored; retry", { cause: err });
      }
    }
    return { affected: await sendControl(this.o.nats.get().nc, c.appId, cmd, this.o.log) };
  }

  /**
   * Deletes the message from the rooms stream (so history no longer returns it), then tells every gateway to push
   * `message.deleted`. The sender of a delete command removes the message; gateways only notify.
   */
  private async moderateDelete(c: Conn, req: ModerateDeleteRequest): Promise<Record<string, unknown>> {
    this.require(c, req.room, "moderate");
    const { jsm, nc } = this.o.nats.get();
    const offset = await deleteStoredMessage(jsm, c.appId, req.room, req.messageId);
    await sendControl(nc, c.appId, { op: "delete", room: req.room, messageId: req.messageId, offset }, this.o.log);
    return {};
  }

  /** A control command for this gateway's sockets (from any gateway or from HTTP); returns how many it affected. */
  private act(app: string, cmd: ControlCommand): number | undefined {
    switch (cmd.op) {
      case "disconnect": {
        const room = cmd.room;
        return this.closeWhere(
          (c) =>
            c.appId === app &&
            matchesTarget(c, cmd) &&
            (room === undefined || c.subs.has(room) || c.pending.has(room) || c.presence.has(room)),
          CloseCode.KICKED,
          cmd.reason ?? "disconnected by a moderator",
        );
      }
      case "mute":
      case "unmute": {
        const mute = cmd.op === "mute";
        if ("clientId" in cmd) this.o.nats.get().mutes.apply(app, cmd.room, cmd.clientId, mute);
        let n = 0;
        for (const ws of this.conns) {
          const c = ws.getUserData();
          if (c.appId !== app || !matchesTarget(c, cmd)) continue;
          if (mute) {
            if ("connectionId" in cmd) c.muted.add(cmd.room);
          } else c.muted.delete(cmd.room);
          n++;
        }
        return n;
      }
      case "delete": {
        const room = this.hub?.get(app, cmd.room);
        if (room === undefined) return 0;
        room.forget(cmd.offset);
        const frame = JSON.stringify({ type: "message.deleted", room: cmd.room, id: cmd.messageId });
        this.app.publish(room.topic, frame);
        this.app.publish(topicMeta(app, cmd.room), frame);
        return room.subscribers;
      }
      default:
        // session.close is answered by the revocation watcher (revocation.ts).
        return undefined;
    }
  }

  // ---- history over NATS ----

  private requireHub(): RoomHub {
    if (this.hub === undefined) throw new SwitchboardError("unavailable", "gateway not ready; retry");
    return this.hub;
  }

  private lastOffset(deps: GatewayDeps, app: string, room: string): Promise<number> {
    return lastOffsetOf(deps.jsm, Subjects.room(app, room));
  }

  private requireHistory(): HistoryClient {
    if (this.historyClient === undefined) throw new SwitchboardError("unavailable", "gateway not ready; retry");
    return this.historyClient;
  }

  private historyPage(app: string, query: HistoryQuery): Promise<HistoryResult> {
    return this.requireHistory().page(app, query);
  }

  private fetchRange(app: string, room: string, after: number, upTo: number): Promise<StoredMessage[]> {
    return this.requireHistory().range(app, room, after, upTo);
  }

  /**
   * Everything after `after` that history holds now. `complete` is false when the resume window is gone: retention
   * drops a room's oldest messages first, so what the client missed is intact exactly when the room's oldest stored
   * message is at or before `after` (offset 0 asks for everything stored).
   */
  private async replayAfter(
    deps: GatewayDeps,
    app: string,
    room: string,
    after: number,
  ): Promise<{ messages: StoredMessage[]; complete: boolean }> {
    const oldest = after === 0 ? null : await deps.jsm.direct.getMessage(STREAM_ROOMS, { seq: 1, next_by_subj: Subjects.room(app, room) });
    const { messages, exhausted } = await this.requireHistory().forwards(app, room, after);
    return { messages, complete: exhausted && (after === 0 || (oldest !== null && oldest.seq <= after)) };
  }
}

function matchesTarget(c: Conn, t: { clientId: string } | { connectionId: string }): boolean {
  return "clientId" in t ? c.claims.clientId === t.clientId : c.id === t.connectionId;
}

export type { LiveEntry, Room };
