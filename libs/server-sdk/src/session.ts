/**
 * A session (docs/HTTP-API.md, Tokbox/OpenVidu style): room `session:<id>`, tokens by role, close, force-disconnect.
 */
import type { SessionRoleName } from "./styles.js";

export interface SessionTokenOptions {
  /** SUBSCRIBER, PUBLISHER (default) or MODERATOR; lower case accepted. */
  role?: SessionRoleName;
  /** Connection data (≤ 1000 characters), shown with the connection's presence and messages. */
  data?: string;
  /** When the token expires: a Date or epoch milliseconds (default: 15 minutes from now). */
  expireTime?: Date | number;
  /** Optional client id for presence and moderation (an extension; Tokbox tokens have none). */
  clientId?: string | number;
}

export interface SessionInfo {
  sessionId: string;
  [field: string]: unknown;
}

export type DisconnectTarget = string | { clientId: string } | { connectionId: string };

/** What a Session needs from its Switchboard. */
export interface SessionBackend {
  sessionToken(sessionId: string, options: SessionTokenOptions): Promise<string>;
  closeSession(sessionId: string): Promise<void>;
  forceDisconnect(sessionId: string, target: DisconnectTarget): Promise<{ affected: number }>;
}

export class Session {
  readonly sessionId: string;

  constructor(
    /** Everything the auth service answered when the session was created. */
    readonly info: SessionInfo,
    private readonly backend: SessionBackend,
  ) {
    this.sessionId = info.sessionId;
  }

  /** A token for this session's room with the given role, signed offline. */
  generateToken(options: SessionTokenOptions = {}): Promise<string> {
    return this.backend.sessionToken(this.sessionId, options);
  }

  /** Closes the session: its sockets get 4004 and new tokens are refused. */
  close(): Promise<void> {
    return this.backend.closeSession(this.sessionId);
  }

  /** Disconnects a connection (by connection id) or every connection of a client id from this session. */
  forceDisconnect(connectionIdOrClientId: DisconnectTarget): Promise<{ affected: number }> {
    return this.backend.forceDisconnect(this.sessionId, connectionIdOrClientId);
  }
}
