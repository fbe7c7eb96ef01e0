/**
 * API keys in the keys bucket (docs/HTTP-API.md) under KvKeys.key(appId, keyId), their secrets sealed by SecretBox.
 * `KeyRegistry` is the read side every service uses: a cache filled on first use and kept fresh by a KV watch, so
 * verifying a token or an API key costs no network round trip once a key is known.
 */
import type { KV } from "@nats-io/kv";
import { Permissions, SwitchboardError, parseApiKey, unavailable, type PermissionMap } from "@switchboard/protocol";
import { apiKeyOf, constantTimeEqual } from "./authorization.js";
import type { Logger } from "./logger.js";
import type { SealedSecret, SecretBox } from "./secretbox.js";
import { KvKeys } from "./subjects.js";
import { followBucket, hasValue } from "./watch.js";

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
  ceilingMap: PermissionMap | undefined;
  ceiling: Permissions | undefined;
}

/** Authentication of an app API request: what a route needs of KeyRegistry (a stub stands in for it in route tests). */
export interface ApiKeyAuthenticator {
  authenticate(header: string | undefined, options?: { allowRaw?: boolean }): Promise<ResolvedKey>;
}

const decoder = new TextDecoder();
const NEGATIVE_TTL_MS = 1000;

export class KeyRegistry implements ApiKeyAuthenticator {
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

  /** Reads in flight by kid: a burst of connects with a key not cached yet reads it once, not once per connect. */
  private readonly loading = new Map<string, Promise<ResolvedKey | undefined>>();

  /** The key for `appId.keyId`, loaded from KV on a cache miss; undefined when it does not exist. */
  get(kid: string): Promise<ResolvedKey | undefined> {
    const hit = this.cache.get(kid);
    if (hit !== undefined) return Promise.resolve(hit);
    let p = this.loading.get(kid);
    if (p === undefined) {
      p = this.load(kid).finally(() => this.loading.delete(kid));
      this.loading.set(kid, p);
    }
    return p;
  }

  private async load(kid: string): Promise<ResolvedKey | undefined> {
    const missAt = this.misses.get(kid);
    if (missAt !== undefined && Date.now() - missAt < NEGATIVE_TTL_MS) return undefined;
    let entry;
    try {
      entry = await this.kv.get(kid);
    } catch (err) {
      // NATS unreachable: the caller should retry, not be told the key is unknown (nor get a 500).
      throw unavailable("API keys cannot be read from NATS right now; retry", err);
    }
    if (!hasValue(entry)) {
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
    const resolved = resolveKey({ appId: record.appId, keyId: record.keyId, secret, permissions: record.permissions }, kid);
    this.cache.set(kid, resolved);
    return resolved;
  }

  authenticate(header: string | undefined, options: { allowRaw?: boolean } = {}): Promise<ResolvedKey> {
    return authenticateApiKey(header, options, (kid) => this.get(kid));
  }
}

/** A key ready for use from its fields and plain secret (`kid` defaults to `appId.keyId`). */
export function resolveKey(
  k: { appId: string; keyId: string; secret: string; permissions?: PermissionMap | undefined },
  kid: string = KvKeys.key(k.appId, k.keyId),
): ResolvedKey {
  return {
    appId: k.appId,
    keyId: k.keyId,
    kid,
    secret: k.secret,
    ceilingMap: k.permissions,
    ceiling: k.permissions === undefined ? undefined : new Permissions(k.permissions, "key ceiling"),
  };
}

/**
 * Authenticates an app API request from its Authorization header: `Basic base64(appId.keyId:secret)`,
 * `Bearer appId.keyId:secret`, or (Livestorm-compatible) the raw key, against the key `lookup` finds for its kid.
 * Secrets are compared in constant time.
 */
export async function authenticateApiKey(
  header: string | undefined,
  options: { allowRaw?: boolean },
  lookup: (kid: string) => Promise<ResolvedKey | undefined>,
): Promise<ResolvedKey> {
  const apiKey = apiKeyOf(header, options.allowRaw ?? false);
  const parsed = apiKey === undefined ? undefined : parseApiKey(apiKey);
  if (parsed === undefined)
    throw new SwitchboardError(
      "unauthorized",
      "missing or malformed API key: send Authorization: Basic base64(appId.keyId:secret) or Bearer appId.keyId:secret",
    );
  const key = await lookup(KvKeys.key(parsed.appId, parsed.keyId));
  if (key === undefined || !constantTimeEqual(key.secret, parsed.secret))
    throw new SwitchboardError("unauthorized", "unknown API key or wrong secret");
  return key;
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
