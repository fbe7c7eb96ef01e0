/**
 * The Switchboard client (README.md#sdks): one WebSocket to a gateway with request/reply, rooms, token refresh before
 * expiry, and reconnect with jittered backoff (0.5-10 s) that resumes every room from its last offset.
 */
import { CloseCode, SwitchboardError } from "@switchboard/protocol/errors";
import type { ConnectedFrame, RequestType, ServerFrame, SignalPush } from "@switchboard/protocol/frames";
import type { RequestFields, ResultOf } from "@switchboard/protocol/requests";
import { ROOM_MAX, isValidRoom } from "@switchboard/protocol/names";
import { Emitter } from "./emitter.js";
import { Room, type RequestOptions, type RoomLink } from "./room.js";
import { PubSub, type PubSubScope } from "./pubsub.js";
import { OPEN, createSocket, frameText, type SocketLike } from "./socket.js";
import { PendingRequests, type Pending } from "./pending.js";

export type ConnectionState = "disconnected" | "connecting" | "connected" | "reconnecting" | "closed";

export interface ClientOptions {
  /** e.g. ws://127.0.0.1:8080/v1/ws */
  url: string;
  /** A token; enough for short sessions. */
  token?: string;
  /** Called for the first token and again before the current one expires (and after a 4002 close). */
  getToken?: () => Promise<string>;
  /** Reconnect backoff bounds in ms (default 500 and 10000). */
  minReconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /** How long a request waits for its reply (default 15000 ms). */
  requestTimeoutMs?: number;
}

export interface ClientEvents extends Record<string, unknown[]> {
  state: [ConnectionState];
  /** Failures not tied to a call the app made (a resume that was refused, a token refresh that failed…). */
  error: [SwitchboardError];
  /** `message.deleted` pushes. */
  deleted: [{ room: string; id: string }];
  /**
   * `signal` pushes: sent to this connection alone (an OpenTok signal to its connectionId), whether or not it
   * subscribed to `room`; not stored, so never replayed on resume.
   */
  signal: [Omit<SignalPush, "type">];
  /** The token was refreshed on the open connection; the new expiry in epoch ms. */
  refreshed: [number];
}

/** Close codes after which reconnecting with the same credentials cannot succeed. */
const FATAL_CLOSES: ReadonlySet<number> = new Set([
  CloseCode.TOKEN_INVALID,
  CloseCode.SESSION_EXPIRED,
  CloseCode.KICKED,
  CloseCode.PROTOCOL_VIOLATION,
]);
/** A token is renewed through getToken() when it has less than this left. */
const TOKEN_RENEW_MS = 30_000;

export class SwitchboardClient extends Emitter<ClientEvents> {
  private _state: ConnectionState = "disconnected";
  private ws: SocketLike | undefined;
  private token: string | undefined;
  private tokenExpiresAt: number | undefined;
  private readonly rooms = new Map<string, Room>();
  private readonly pending = new PendingRequests(() => this.options.requestTimeoutMs ?? 15_000);
  private attempts = 0;
  private everConnected = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private connectWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private readonly link: RoomLink;
  /** Set by the `connected` frame. */
  connectionId: string | undefined;
  clientId: string | null = null;

  constructor(private readonly options: ClientOptions) {
    super();
    // Plain JavaScript callers may pass anything: checked at run time.
    const given = options as Partial<ClientOptions> | undefined;
    if (typeof given?.url !== "string" || !/^wss?:\/\//.test(given.url))
      throw new SwitchboardError("bad_request", "url must be a ws:// or wss:// URL such as ws://127.0.0.1:8080/v1/ws");
    if (options.token === undefined && options.getToken === undefined)
      throw new SwitchboardError("bad_request", "give a token or a getToken() function");
    this.token = options.token;
    if (this.token !== undefined) this.tokenExpiresAt = tokenExpiry(this.token);
    const state = () => this._state;
    this.link = {
      get connected() {
        return state() === "connected";
      },
      get closed() {
        return state() === "closed" || state() === "disconnected";
      },
      request: (type, fields, opts) => this.request(type, fields, opts),
      reportError: (err) => this.reportError(err),
    };
  }

  get state(): ConnectionState {
    return this._state;
  }

  /** When the current token expires (epoch ms), once known. */
  get expiresAt(): number | undefined {
    return this.tokenExpiresAt;
  }

  /** Opens the connection; resolves when the gateway sent `connected`. */
  connect(): Promise<void> {
    if (this._state === "connected") return Promise.resolve();
    if (this._state === "closed") return Promise.reject(new SwitchboardError("bad_request", "this client was closed; create a new one"));
    const done = new Promise<void>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    if (this._state === "disconnected") {
      this.attempts = 0;
      this.setState("connecting");
      void this.open();
    }
    return done;
  }

  /** Closes the connection for good; pending calls fail with `unavailable`. */
  close(): void {
    if (this._state === "closed") return;
    this.setState("closed");
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    const ws = this.ws;
    this.detach();
    try {
      ws?.close(CloseCode.NORMAL, "client closed");
    } catch {
      // already closing
    }
    this.failAll(new SwitchboardError("unavailable", "the client was closed"));
  }

  room(name: string): Room {
    if (!isValidRoom(name))
      throw new SwitchboardError(
        "invalid_room",
        `invalid room name ${JSON.stringify(name)}: use 1-${ROOM_MAX} characters from A-Z a-z 0-9 _ - : @ = + , ; ~ !`,
      );
    let room = this.rooms.get(name);
    if (room === undefined) this.rooms.set(name, (room = new Room(name, this.link)));
    return room;
  }

  /** Livestorm-style scopes: rooms `org`, `event:<eventId>` and `session:<sessionId>`. */
  pubsub(scope: PubSubScope = {}): PubSub {
    return new PubSub(this, scope);
  }

  /**
   * Sends a request and resolves with its result, typed by libs/protocol's request → result map (the gateway's
   * handlers return the same types); waits for the connection when it is not up.
   */
  request<K extends RequestType>(type: K, fields: RequestFields<K>, options: RequestOptions = {}): Promise<ResultOf<K>> {
    if (this._state === "closed" || this._state === "disconnected")
      return Promise.reject(new SwitchboardError("unavailable", `not connected (state ${this._state}); call connect() first`));
    return new Promise<ResultOf<K>>((resolve, reject) => {
      const p: Pending = { type, fields, retry: options.retry ?? true, resolve, reject };
      if (this._state === "connected") this.send(p);
      else this.pending.wait(p);
    });
  }

  // ---- connection ----

  private setState(state: ConnectionState): void {
    if (this._state === state) return;
    this._state = state;
    this.emit("state", state);
  }

  private async open(): Promise<void> {
    let token: string;
    try {
      token = await this.currentToken();
    } catch (err) {
      this.reportError(err);
      this.scheduleReconnect();
      return;
    }
    if (!this.opening()) return;
    let ws: SocketLike;
    try {
      const sep = this.options.url.includes("?") ? "&" : "?";
      ws = await createSocket(`${this.options.url}${sep}token=${encodeURIComponent(token)}`);
    } catch (err) {
      this.reportError(err);
      this.scheduleReconnect();
      return;
    }
    // close() may have run while the socket was being created.
    if (!this.opening()) {
      // Closed while the socket was still connecting: `ws` reports that abort as an error event, expected here.
      ws.onerror = () => undefined;
      ws.close(CloseCode.NORMAL, "client closed");
      return;
    }
    this.ws = ws;
    ws.onmessage = (ev) => {
      if (this.ws === ws) this.onFrame(frameText(ev.data));
    };
    ws.onclose = (ev) => this.onClose(ws, ev.code, ev.reason);
    ws.onerror = () => undefined; // a close event follows
  }

  /** Connecting or reconnecting (a method, not a narrowed field read: the state changes across awaits). */
  private opening(): boolean {
    return this._state === "connecting" || this._state === "reconnecting";
  }

  private async currentToken(): Promise<string> {
    const getToken = this.options.getToken;
    const stale = this.token === undefined || (this.tokenExpiresAt !== undefined && this.tokenExpiresAt - Date.now() < TOKEN_RENEW_MS);
    if (getToken !== undefined && stale) {
      const token = await getToken();
      if (typeof token !== "string" || token.length === 0)
        throw new SwitchboardError("unauthorized", "getToken() did not return a token string");
      this.token = token;
      this.tokenExpiresAt = tokenExpiry(token);
    }
    if (this.token === undefined) throw new SwitchboardError("unauthorized", "no token: give a token or a getToken() function");
    return this.token;
  }

  private onFrame(text: string): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text) as ServerFrame;
    } catch {
      this.reportError(new SwitchboardError("internal", "the gateway sent a frame that is not JSON"));
      return;
    }
    switch (frame.type) {
      case "connected":
        this.onConnected(frame);
        return;
      case "reply": {
        const outcome = frame.ok
          ? { ok: true as const, result: frame.result }
          : { ok: false as const, error: new SwitchboardError(frame.error.code, frame.error.message) };
        // An error reply to no request (a frame the gateway could not read) is reported, not lost.
        if (!this.pending.settle(frame.id, outcome) && !outcome.ok) this.reportError(outcome.error);
        return;
      }
      case "message":
        return this.rooms.get(frame.room)?.deliver(frame);
      case "presence":
        return this.rooms.get(frame.room)?.deliverPresence(frame);
      case "message.deleted":
        this.emit("deleted", { room: frame.room, id: frame.id });
        return;
      case "unsubscribed":
        return this.rooms.get(frame.room)?.unsubscribedByServer(frame.reason);
      case "token.expiring":
        return void this.refreshToken();
      case "signal":
        this.emit("signal", { room: frame.room, event: frame.event, data: frame.data });
        return;
    }
  }

  private onConnected(frame: ConnectedFrame): void {
    this.connectionId = frame.connectionId;
    this.clientId = frame.clientId;
    this.tokenExpiresAt = frame.expiresAt;
    this.attempts = 0;
    this.everConnected = true;
    this.setState("connected");
    this.startHeartbeat(frame.heartbeatMs);
    for (const room of this.rooms.values()) room.resume();
    for (const room of this.rooms.values()) room.presence.rejoin();
    for (const p of this.pending.takeQueued()) this.send(p);
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    for (const w of waiters) w.resolve();
  }

  private onClose(ws: SocketLike, code: number, reason: string): void {
    if (ws !== this.ws) return;
    this.detach();
    if (this._state === "closed") return;
    for (const room of this.rooms.values()) room.dropped();
    this.pending.connectionLost();
    const expired = code === CloseCode.TOKEN_EXPIRED;
    if (FATAL_CLOSES.has(code) || (expired && this.options.getToken === undefined)) {
      const err = new SwitchboardError("unauthorized", `the gateway closed the connection (${code}${reason ? `: ${reason}` : ""})`);
      this.setState("disconnected");
      this.failAll(err);
      this.reportError(err);
      return;
    }
    if (expired) this.token = undefined;
    this.setState(this.everConnected ? "reconnecting" : "connecting");
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this._state === "closed" || this._state === "disconnected") return;
    const min = this.options.minReconnectDelayMs ?? 500;
    const max = this.options.maxReconnectDelayMs ?? 10_000;
    const cap = Math.min(max, min * 2 ** this.attempts);
    this.attempts++;
    // Full jitter within [cap/2, cap], never below the minimum, so a fleet of clients does not reconnect in step.
    const delay = Math.max(min, cap / 2 + Math.random() * (cap / 2));
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.open();
    }, delay);
  }

  private detach(): void {
    const ws = this.ws;
    this.ws = undefined;
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    if (ws !== undefined) {
      ws.onmessage = null;
      ws.onclose = null;
    }
  }

  private failAll(err: unknown): void {
    this.pending.failAll(err);
    for (const room of this.rooms.values()) room.fail(err);
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    for (const w of waiters) w.reject(err);
  }

  private send(p: Pending): void {
    const ws = this.ws;
    if (ws === undefined || ws.readyState !== OPEN) this.pending.wait(p);
    else this.pending.send(p, (text) => ws.send(text));
  }

  /** Pings every heartbeatMs; a ping without a reply within the next interval means the link is dead: reconnect. */
  private startHeartbeat(heartbeatMs: number): void {
    if (!(heartbeatMs > 0)) return;
    const ws = this.ws;
    this.heartbeat = setInterval(() => {
      this.request("ping", {}, { retry: false }).catch(() => {
        if (this.ws !== ws || ws === undefined) return;
        try {
          ws.close(3000, "heartbeat timeout");
        } catch {
          // already closing
        }
        this.onClose(ws, 1006, "heartbeat timeout");
      });
    }, heartbeatMs);
  }

  private async refreshToken(): Promise<void> {
    if (this.options.getToken === undefined) return;
    try {
      const token = await this.options.getToken();
      this.token = token;
      const res = await this.request("refresh", { token }, { retry: false });
      this.tokenExpiresAt = res.expiresAt;
      this.emit("refreshed", res.expiresAt);
    } catch (err) {
      this.reportError(err);
    }
  }

  private reportError(err: unknown): void {
    const e =
      err instanceof SwitchboardError
        ? err
        : new SwitchboardError("internal", err instanceof Error ? err.message : String(err), { cause: err });
    this.emit("error", e);
  }
}

/** The `exp` claim of a JWT in epoch ms (read, not verified: only to know when to ask for a new one). */
function tokenExpiry(token: string): number | undefined {
  try {
    const part = token.split(".")[1];
    if (part === undefined) return undefined;
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
