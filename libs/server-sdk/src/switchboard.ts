/**
 * The server SDK (README.md#sdks): offline tokens, HTTP publish, sessions, Tokbox- and IVS-style helpers and the
 * Livestorm-compatible pub/sub, for app servers holding an API key.
 */
import {
  SwitchboardError,
  assertEvent,
  assertRoom,
  normalizeRole,
  sessionRoom,
  type PermissionMap,
  type PublishResult,
  type SigningKey,
  type TokenRequest,
  type TokenResponse,
} from "@switchboard/protocol";
import { HttpClient } from "./http.js";
import { Session, type DisconnectTarget, type SessionBackend, type SessionInfo, type SessionTokenOptions } from "./session.js";
import { secondsUntil, signOffline, signingKeyOf } from "./signing.js";
import {
  DEFAULT_CHAT_SESSION_MINUTES,
  DEFAULT_SESSION_ROLE,
  Days30,
  Hours1,
  Hours2,
  Hours24,
  Weeks1,
  chatCapabilities,
  type ChatCapabilityName,
  type SessionRoleName,
} from "./styles.js";

/** The dev launcher's addresses (docs/CONFIG.md). */
export const DEFAULT_URLS = {
  authUrl: "http://127.0.0.1:8081",
  ingestUrl: "http://127.0.0.1:8082",
  historyUrl: "http://127.0.0.1:8083",
} as const;

export interface SwitchboardOptions {
  /** `<appId>.<keyId>:<secret>`. Keep it on the server; never send it to a browser. */
  apiKey: string;
  authUrl?: string;
  ingestUrl?: string;
  historyUrl?: string;
  /** For tests and custom transports. */
  fetch?: typeof fetch;
}

export interface TokenOptions extends TokenRequest {
  clientId?: string | number;
}

export interface PublishOptions {
  /** Same key within 2 minutes → same {id, offset}, delivered once. */
  idempotencyKey?: string;
}

export interface BatchMessage {
  room: string;
  event: string;
  data?: unknown;
  idempotencyKey?: string;
}

export type BatchResult = PublishResult | { error: { code: string; message: string } };

export interface CreateSessionOptions {
  customSessionId?: string;
  mediaMode?: "relayed" | "routed";
  location?: string;
  metadata?: unknown;
}

export interface ChatTokenOptions {
  roomIdentifier: string;
  userId: string | number;
  capabilities?: ChatCapabilityName[];
  sessionDurationInMinutes?: number;
  attributes?: Record<string, string>;
}

export interface ChatToken {
  token: string;
  tokenExpirationTime: Date;
  sessionExpirationTime: Date;
}

export interface PubSubScope {
  type: "organization" | "event" | "session";
  event_id?: string;
  session_id?: string;
}

export interface PubSubMessage {
  scope: PubSubScope;
  payload: { event: { eventName: string; data?: unknown } };
}

export class Switchboard {
  static readonly Hours1 = Hours1;
  static readonly Hours2 = Hours2;
  static readonly Hours24 = Hours24;
  static readonly Weeks1 = Weeks1;
  static readonly Days30 = Days30;

  readonly authUrl: string;
  readonly ingestUrl: string;
  readonly historyUrl: string;
  /** Livestorm-compatible pub/sub over POST /api/v1/pub_subs. */
  readonly pubsub: { publish(message: PubSubMessage): Promise<unknown> };

  private readonly key: SigningKey;
  private readonly http: HttpClient;
  private readonly sessions: SessionBackend;

  constructor(options: SwitchboardOptions) {
    // JavaScript callers can pass anything; the types cannot promise an object here.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    if (typeof options !== "object" || options === null)
      throw new SwitchboardError("bad_request", "new Switchboard({apiKey}) needs an options object");
    this.key = signingKeyOf(options.apiKey);
    this.authUrl = options.authUrl ?? DEFAULT_URLS.authUrl;
    this.ingestUrl = options.ingestUrl ?? DEFAULT_URLS.ingestUrl;
    this.historyUrl = options.historyUrl ?? DEFAULT_URLS.historyUrl;
    this.http = new HttpClient(options.apiKey, options.fetch);
    this.pubsub = {
      publish: (message) => this.http.json({ method: "POST", base: this.ingestUrl, path: "/api/v1/pub_subs", body: message, auth: "raw" }),
    };
    this.sessions = {
      sessionToken: (sessionId, options) => this.sessionToken(sessionId, options),
      closeSession: async (sessionId) => {
        await this.http.json({ method: "DELETE", base: this.authUrl, path: `/v1/sessions/${encodeURIComponent(sessionId)}` });
      },
      forceDisconnect: (sessionId, target) => this.forceDisconnect(sessionId, target),
    };
  }

  /** The app this SDK's key belongs to. */
  get appId(): string {
    return this.key.appId;
  }

  // ---- tokens ----

  /** Signs a token offline (no network) → {token, expiresIn, expiresAt, sessionExpiresAt?, clientId?}. */
  generateTokenResponse(options: TokenOptions = {}): Promise<TokenResponse> {
    return signOffline(this.key, options);
  }

  // ---- publish ----

  /** Publishes over HTTP; resolves once JetStream stored the message. */
  async publish(room: string, event: string, data: unknown = null, options: PublishOptions = {}): Promise<PublishResult> {
    assertRoom(room);
    assertEvent(event);
    const body: Record<string, unknown> = { event, data };
    if (options.idempotencyKey !== undefined) body["idempotencyKey"] = options.idempotencyKey;
    return this.http.json<PublishResult>({
      method: "POST",
      base: this.ingestUrl,
      path: `/v1/rooms/${encodeURIComponent(room)}/messages`,
      body,
    });
  }

  /** Up to 1000 messages in one request; one result per message, in order. */
  async publishBatch(messages: BatchMessage[]): Promise<BatchResult[]> {
    const res = await this.http.json<{ results: BatchResult[] }>({
      method: "POST",
      base: this.ingestUrl,
      path: "/v1/messages",
      body: { messages: messages.map((m) => ({ ...m, data: m.data ?? null })) },
    });
    return res.results;
  }

  // ---- sessions (Tokbox / OpenVidu style) ----

  async createSession(options: CreateSessionOptions = {}): Promise<Session> {
    const info = await this.http.json<SessionInfo>({ method: "POST", base: this.authUrl, path: "/v1/sessions", body: options });
    if (typeof info.sessionId !== "string")
      throw new SwitchboardError("internal", "the auth service answered POST /v1/sessions without a sessionId");
    return new Session(info, this.sessions);
  }

  /** A Session object for an existing session id (no network). */
  session(sessionId: string): Session {
    return new Session({ sessionId }, this.sessions);
  }

  /** Tokbox style: a token for `session:<sessionId>`; `expiration` is a duration in seconds (e.g. Switchboard.Hours24). */
  token(sessionId: string, role: SessionRoleName, connectionData?: string, expiration?: number): Promise<string> {
    return this.sessionToken(sessionId, { role, ...(connectionData !== undefined ? { data: connectionData } : {}) }, expiration);
  }

  async tokens(n: number, sessionId: string, role: SessionRoleName, connectionData?: string, expiration?: number): Promise<string[]> {
    if (!Number.isInteger(n) || n < 1 || n > 1000)
      throw new SwitchboardError("bad_request", "tokens(n, …): n must be an integer from 1 to 1000");
    return Promise.all(Array.from({ length: n }, () => this.token(sessionId, role, connectionData, expiration)));
  }

  /** A token for room `session:<id>` with the role's capabilities, signed offline; `expiresIn` wins over `expireTime`. */
  private async sessionToken(sessionId: string, options: SessionTokenOptions, expiresIn?: number): Promise<string> {
    const room = assertRoom(sessionRoom(sessionId));
    const nowSec = Math.floor(Date.now() / 1000);
    const expiry = expiresIn ?? (options.expireTime === undefined ? undefined : secondsUntil(options.expireTime, nowSec));
    const req: TokenRequest = {
      role: normalizeRole(options.role ?? DEFAULT_SESSION_ROLE),
      permissions: { [room]: ["*"] } satisfies PermissionMap,
      ...(options.data !== undefined ? { data: options.data } : {}),
      ...(expiry !== undefined ? { expiresIn: expiry } : {}),
      ...(options.clientId !== undefined ? { clientId: options.clientId } : {}),
    };
    return (await signOffline(this.key, req, nowSec)).token;
  }

  private async forceDisconnect(sessionId: string, target: DisconnectTarget): Promise<{ affected: number }> {
    const path = `/v1/rooms/${encodeURIComponent(sessionRoom(sessionId))}/disconnect`;
    const send = async (body: Record<string, string>) => {
      const res = await this.http.json<{ affected?: number }>({ method: "POST", base: this.ingestUrl, path, body });
      return { affected: typeof res.affected === "number" ? res.affected : 0 };
    };
    if (typeof target !== "string") return send(target);
    // A bare string may be either: try it as a connection id, then as a client id.
    const byConnection = await send({ connectionId: target });
    return byConnection.affected > 0 ? byConnection : send({ clientId: target });
  }

  // ---- IVS style ----

  /** A chat token for one room: reading is implicit; SEND_MESSAGE → publish; DELETE_MESSAGE / DISCONNECT_USER → moderate. */
  async createChatToken(options: ChatTokenOptions): Promise<ChatToken> {
    const room = assertRoom(options.roomIdentifier);
    const minutes = options.sessionDurationInMinutes ?? DEFAULT_CHAT_SESSION_MINUTES;
    const res = await signOffline(this.key, {
      clientId: options.userId,
      permissions: { [room]: chatCapabilities(options.capabilities ?? []) },
      // The socket closes at the token's expiry, so the token lasts the whole chat session.
      expiresIn: minutes * 60,
      sessionDurationMinutes: minutes,
      ...(options.attributes !== undefined ? { attributes: options.attributes } : {}),
    });
    return {
      token: res.token,
      tokenExpirationTime: new Date(res.expiresAt),
      sessionExpirationTime: new Date(res.sessionExpiresAt ?? res.expiresAt),
    };
  }
}
