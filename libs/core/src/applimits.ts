/**
 * An app's own settings over the operator's defaults: socket limits (docs/PROTOCOL.md, applied by the gateway) and history
 * retention (docs/HTTP-API.md, applied by history), with their bounds. The numeric bounds are libs/protocol limits.ts's,
 * shared with the gateway's SWITCHBOARD_* variables; auth's admin API schema and every reader of a stored record
 * use these.
 */
import { RETENTION_BOUNDS, SOCKET_LIMIT_BOUNDS, type Bounds } from "@switchboard/protocol";

/** Per-app socket limits applied by the gateway at upgrade (docs/PROTOCOL.md). */
export interface AppLimits {
  maxRoomsPerSocket?: number;
  /** Client publishes per second per socket (token bucket rate). */
  publishRate?: number;
  publishBurst?: number;
  /** Outbound buffer past which a socket is closed with 4009. */
  maxOutboundBytes?: number;
  /** Open sockets of the app on one gateway process (a flood from one app cannot take a gateway from the others). */
  maxConnections?: number;
  /** Largest client frame; at most 64 KiB (uWS's payload limit is per process, so an app may only go lower). */
  maxFrameBytes?: number;
  /** Browser Origins (scheme://host[:port]) allowed to open sockets; replaces SWITCHBOARD_ALLOWED_ORIGINS for the app. */
  allowedOrigins?: string[];
}

export interface AppRetentionSettings {
  /** Messages older than this are not returned (default: SWITCHBOARD_RETENTION_MAX_AGE, 24 h). */
  maxAgeMs?: number;
  /** Messages kept per room (default: SWITCHBOARD_RETENTION_MAX_MESSAGES, 10 000). */
  maxMessagesPerRoom?: number;
}

export type AppNumericLimit = Exclude<keyof AppLimits, "allowedOrigins">;

/** The bounds of an app's numeric limits: those of libs/protocol limits.ts, shared with the gateway's variables. */
export const APP_LIMIT_BOUNDS: { readonly [K in AppNumericLimit]: Bounds } = SOCKET_LIMIT_BOUNDS;
export const APP_MAX_ORIGINS = 100;
/** scheme://host[:port], no path (the form browsers send in the Origin header). */
export const APP_ORIGIN_PATTERN = "^https?://[^\\s/]+$";

export const APP_RETENTION_BOUNDS: { readonly [K in keyof AppRetentionSettings]-?: Bounds } = RETENTION_BOUNDS;

const ORIGIN_RE = new RegExp(APP_ORIGIN_PATTERN);

/**
 * The valid settings of a stored `limits` (which may have been written by hand): a value out of APP_LIMIT_BOUNDS
 * or of the wrong type is dropped, so the default applies. Origins are lower-cased.
 */
export function validAppLimits(limits: unknown): AppLimits {
  const out: AppLimits = {};
  if (typeof limits !== "object" || limits === null) return out;
  const l = limits as Record<string, unknown>;
  for (const k of Object.keys(APP_LIMIT_BOUNDS) as AppNumericLimit[]) {
    const v = l[k];
    const b = APP_LIMIT_BOUNDS[k];
    if (typeof v === "number" && Number.isSafeInteger(v) && v >= b.min && v <= b.max) out[k] = v;
  }
  const origins = l["allowedOrigins"];
  if (Array.isArray(origins) && origins.length <= APP_MAX_ORIGINS && origins.every((o) => typeof o === "string" && ORIGIN_RE.test(o)))
    out.allowedOrigins = (origins as string[]).map((o) => o.toLowerCase());
  return out;
}
