/**
 * Apps and API keys in NATS KV (DESIGN §3). Key secrets are sealed with AES-256-GCM under the master key (the key
 * id is the additional data, so a sealed secret cannot be moved to another key) and never logged.
 * `KeyRegistry` is the read side every service uses: a cache filled on first use and kept fresh by a KV watch, so
 * verifying a token or an API key costs no network round trip once a key is known.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual, createSecretKey, type KeyObject } from "node:crypto";
import type { KV } from "@nats-io/kv";
import {
  Permissions,
  RETENTION_BOUNDS,
  SOCKET_LIMIT_BOUNDS,
  SwitchboardError,
  parseApiKey,
  type Bounds,
  type PermissionMap,
} from "@switchboard/protocol";
import type { Logger } from "./logger.js";
import { KvKeys } from "./subjects.js";
import { followBucket } from "./watch.js";

export interface AppRecord {
  id: string;
  name: string;
  createdAt: number;
  /** Per-app history retention (DESIGN §7); history enforces it where stricter than the stream's. */
  retention?: AppRetentionSettings;
  /** Per-app socket limits (DESIGN §5); each one unset falls back to the gateway's SWITCHBOARD_* default. */
  limits?: AppLimits;
}

/** Per-app socket limits applied by the gateway at upgrade (DESIGN §5). */
export interface AppLimits {
  maxRoomsPerSocket?: number;
  /** Client publishes per second per socket (token bucket rate). */
  publishRate?: number;
  publishBurst?: number;
  /** Outbound buffer past which a socket is closed with 4009. */
  maxOutboundBytes?: number;
  /** Largest client frame; at most 64 KiB (uWS's payload limit is per process, so an app may only go lower). */
  maxFrameBytes?: number;
  /** Browser Origins (scheme://host[:port]) allowed to open sockets; replaces SWITCHBOARD_ALLOWED_ORIGINS for the app. */
  allowedOrigins?: string[];
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

export interface AppRetentionSettings {
  /** Messages older than this are not returned (default: SWITCHBOARD_RETENTION_MAX_AGE, 24 h). */
  maxAgeMs?: number;
  /** Messages kept per room (default: SWITCHBOARD_RETENTION_MAX_MESSAGES, 10 000). */
  maxMessagesPerRoom?: number;
}

export interface SealedSecret {
  v: 1;
  iv: string;
  tag: string;
  data: string;
}

export interface KeyRecord {
  appId: string;
  keyId: string;
  createdAt: number;
  permissions?: PermissionMap;
  secret: SealedSecret;
}

/** A key as the services use it: secret in memory only, ceiling compiled once. */
export interface ResolvedKey {
  appId: string;
  keyId: string;
  /** `appId.keyId`: the token header's `kid`. */
  kid: string;
  secret: string;
  hmacKey: KeyObject;
  ceilingMap: PermissionMap | undefined;
  ceiling: Permissions | undefined;
}

/** Used only when SWITCHBOARD_MASTER_KEY is unset; the service logs a warning saying so. */
export const DEV_MASTER_KEY = createHash("sha256").update("switchboard development master key - not for production").digest();

export class SecretBox {
  constructor(private readonly masterKey: Buffer) {
    if (masterKey.length !== 32) throw new Error("master key must be 32 bytes");
  }

  seal(secret: string, aad: string): SealedSecret {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.masterKey, iv);
    cipher.setAAD(Buffer.from(aad));
    const data = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
    return { v: 1, iv: iv.toString("base64url"), tag: cipher.getAuthTag().toString("base64url"), data: data.toString("base64url") };
  }

  open(sealed: SealedSecret, aad: string): string {
    const decipher = createDecipheriv("aes-256-gcm", this.masterKey, Buffer.from(sealed.iv, "base64url"));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(Buffer.from(sealed.tag, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(sealed.data, "base64url")), decipher.final()]).toString("utf8");
  }
}

export function resolveMasterKey(configured: Buffer | undefined, log: Logger): Buffer {
  if (configured !== undefined) return configured;
  log.warn("SWITCHBOARD_MASTER_KEY is not set: key secrets use the built-in development key; set it in production");
  return DEV_MASTER_KEY;
}

/** 32 random bytes, base64url (43 characters). */
export function generateSecret(): string {
  return randomBytes(32).toString("base64url");
}

const decoder = new TextDecoder();
const NEGATIVE_TTL_MS = 1000;

export class KeyRegistry {
  private readonly cache = new Map<string, ResolvedKey>();
  private readonly misses = new Map<string, number>();
  /** Keys seen deleted (KV delete markers), so their tokens are refused as revoked rather than unknown. */
  private readonly deleted = new Set<string>();
  private readonly deleteListeners: Array<(kid: string) => void> = [];

  constructor(
    private readonly kv: KV,
    private readonly box: SecretBox,
    private readonly log: Logger,
  ) {}

  /** Watches for key changes until `signal` aborts. Deleted keys leave the cache and listeners hear of them. */
  async start(signal: AbortSignal): Promise<void> {
    await followBucket(this.kv, signal, this.log, "key", (e) => {
      if (e.operation === "PUT") {
        this.misses.delete(e.key);
        this.deleted.delete(e.key);
        if (this.cache.has(e.key)) this.store(e.key, e.value);
      } else {
        this.cache.delete(e.key);
        this.markDeleted(e.key);
        for (const l of this.deleteListeners) l(e.key);
      }
    });
  }

  onDelete(listener: (kid: string) => void): void {
    this.deleteListeners.push(listener);
  }

  /** Whether `kid` named a key that has been deleted (as far as this process has seen). */
  wasDeleted(kid: string): boolean {
    return this.deleted.has(kid);
  }

  private markDeleted(kid: string): void {
    if (this.deleted.size >= 10_000) this.deleted.clear();
    this.deleted.add(kid);
  }

  /** The cached key, without I/O. */
  peek(kid: string): ResolvedKey | undefined {
    return this.cache.get(kid);
  }

  /** The key for `appId.keyId`, loaded from KV on a cache miss; undefined when it does not exist. */
  async get(kid: string): Promise<ResolvedKey | undefined> {
    const hit = this.cache.get(kid);
    if (hit !== undefined) return hit;
    const missAt = this.misses.get(kid);
    if (missAt !== undefined && Date.now() - missAt < NEGATIVE_TTL_MS) return undefined;
    let entry;
    try {
      entry = await this.kv.get(kid);
    } catch (err) {
      // NATS unreachable: the caller should retry, not be told the key is unknown (nor get a 500).
      throw new SwitchboardError("unavailable", "API keys cannot be read from NATS right now; retry", { retryAfter: 1, cause: err });
    }
    if (entry === null || entry.operation !== "PUT") {
      if (entry !== null) this.markDeleted(kid);
      this.misses.set(kid, Date.now());
      if (this.misses.size > 10_000) this.misses.clear();
      return undefined;
    }
    return this.store(kid, entry.value);
  }

  private store(kid: string, value: Uint8Array): ResolvedKey | undefined {
    let record: KeyRecord;
    try {
      record = JSON.parse(decoder.decode(value)) as KeyRecord;
    } catch (err) {
      this.log.error({ err, kid }, "unreadable key record");
      return undefined;
    }
    let secret: string;
    try {
      secret = this.box.open(record.secret, kid);
    } catch (err) {
      this.log.error(
        { err: (err as Error).message, kid },
        "cannot decrypt key secret: is SWITCHBOARD_MASTER_KEY the same on every service?",
      );
      return undefined;
    }
    const resolved: ResolvedKey = {
      appId: record.appId,
      keyId: record.keyId,
      kid,
      secret,
      hmacKey: createSecretKey(Buffer.from(secret, "utf8")),
      ceilingMap: record.permissions,
      ceiling: record.permissions === undefined ? undefined : new Permissions(record.permissions, "key ceiling"),
    };
    this.cache.set(kid, resolved);
    return resolved;
  }

  /**
   * Authenticates an app API request from its Authorization header: `Basic base64(appId.keyId:secret)`,
   * `Bearer appId.keyId:secret`, or (Livestorm-compatible) the raw key. Secrets are compared in constant time.
   */
  async authenticate(header: string | undefined, options: { allowRaw?: boolean } = {}): Promise<ResolvedKey> {
    const apiKey = extractApiKey(header, options.allowRaw ?? false);
    const parsed = apiKey === undefined ? undefined : parseApiKey(apiKey);
    if (parsed === undefined)
      throw new SwitchboardError(
        "unauthorized",
        "missing or malformed API key: send Authorization: Basic base64(appId.keyId:secret) or Bearer appId.keyId:secret",
      );
    const key = await this.get(KvKeys.key(parsed.appId, parsed.keyId));
    if (key === undefined || !constantTimeEqual(key.secret, parsed.secret))
      throw new SwitchboardError("unauthorized", "unknown API key or wrong secret");
    return key;
  }
}

function extractApiKey(header: string | undefined, allowRaw: boolean): string | undefined {
  if (header === undefined) return undefined;
  const space = header.indexOf(" ");
  const scheme = space < 0 ? "" : header.slice(0, space).toLowerCase();
  const value = space < 0 ? header : header.slice(space + 1).trim();
  if (scheme === "basic") return Buffer.from(value, "base64").toString("utf8");
  if (scheme === "bearer") return value;
  return allowRaw && space < 0 ? header.trim() : undefined;
}

export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, "utf8");
  const bb = Buffer.from(b, "utf8");
  if (ab.length !== bb.length) {
    timingSafeEqual(ab, ab); // keep the timing independent of where the strings differ
    return false;
  }
  return timingSafeEqual(ab, bb);
}

/** Creates an app record if absent. */
export async function putApp(kv: KV, app: AppRecord): Promise<void> {
  await kv.put(KvKeys.app(app.id), JSON.stringify(app));
}

export async function getApp(kv: KV, appId: string): Promise<AppRecord | undefined> {
  const e = await kv.get(KvKeys.app(appId));
  return e === null || e.operation !== "PUT" ? undefined : (JSON.parse(decoder.decode(e.value)) as AppRecord);
}

/** Stores a key with its secret sealed; returns the full `appId.keyId:secret` (to be shown once). */
export async function putKey(
  kv: KV,
  box: SecretBox,
  k: { appId: string; keyId: string; secret: string; permissions?: PermissionMap | undefined },
): Promise<string> {
  const kid = KvKeys.key(k.appId, k.keyId);
  const record: KeyRecord = { appId: k.appId, keyId: k.keyId, createdAt: Date.now(), secret: box.seal(k.secret, kid) };
  if (k.permissions !== undefined) record.permissions = k.permissions;
  await kv.put(kid, JSON.stringify(record));
  return `${kid}:${k.secret}`;
}
