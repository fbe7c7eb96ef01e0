/**
 * Error codes, HTTP statuses and WebSocket close codes of the external contract (docs/PROTOCOL.md, docs/HTTP-API.md).
 * Every service and SDK imports them from here; none retypes them.
 */

export const ERROR_CODES = [
  "bad_request",
  "unauthorized",
  "invalid_room",
  "not_subscribed",
  "too_large",
  "rate_limited",
  "unavailable",
  "not_found",
  "conflict",
  /** Publish refused: a moderator muted this client (or connection) in the room. */
  "muted",
  "internal",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Default HTTP status for each code; an error may override it (403 is `unauthorized` with status 403). */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  bad_request: 400,
  unauthorized: 401,
  invalid_room: 400,
  not_subscribed: 400,
  too_large: 413,
  rate_limited: 429,
  unavailable: 503,
  not_found: 404,
  conflict: 409,
  muted: 403,
  internal: 500,
};

export const CloseCode = {
  /** Normal closure by the client or the server. */
  NORMAL: 1000,
  FRAME_TOO_LARGE: 1009,
  SERVER_RESTARTING: 1012,
  /** Over a connection limit (the app's sockets on this gateway): reconnect later, with backoff. */
  TRY_AGAIN_LATER: 1013,
  TOKEN_INVALID: 4001,
  TOKEN_EXPIRED: 4002,
  SESSION_EXPIRED: 4003,
  KICKED: 4004,
  PROTOCOL_VIOLATION: 4008,
  SLOW_CONSUMER: 4009,
} as const;

export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

export interface SwitchboardErrorOptions {
  status?: number;
  details?: unknown;
  cause?: unknown;
  /** Seconds the caller should wait before retrying (429, 503). */
  retryAfter?: number;
}

/** A failure with a contract code. `message` always says what to fix; it never contains a token or secret. */
export class SwitchboardError extends Error {
  override readonly name = "SwitchboardError";
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message: string, options: SwitchboardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? HTTP_STATUS[code];
    this.details = options.details;
    this.retryAfter = options.retryAfter;
  }

  /** The wire shape used by HTTP error bodies and WebSocket replies. */
  toJSON(): { code: ErrorCode; message: string; details?: unknown } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

/** Seconds a 503 asks the caller to wait (Retry-After) when NATS or JetStream could not do what was asked. */
export const RETRY_AFTER_S = 1;

/** A 503 `unavailable` with Retry-After: a dependency (NATS, JetStream) could not do what was asked; retrying may work. */
export function unavailable(message: string, cause?: unknown): SwitchboardError {
  return new SwitchboardError("unavailable", message, { retryAfter: RETRY_AFTER_S, cause });
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && (ERROR_CODES as readonly string[]).includes(value);
}
