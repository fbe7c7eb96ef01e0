/**
 * Revoked tokens (docs/HTTP-API.md): by `jti`, every token of a clientId issued up to a moment, or every token of a
 * closed session (room `session:<id>`) issued up to a moment. Entries live in the revocations bucket (TTL longer
 * than any token's life); every verifier keeps them in memory from a KV watch, so a check costs no round trip.
 */
import type { KV } from "@nats-io/kv";
import { SESSION_ROOM_PREFIX, type TokenClaims } from "@switchboard/protocol";
import type { Logger } from "./logger.js";
import { KvKeys } from "./subjects.js";
import { followBucket, hasValue } from "./watch.js";

export interface Revocation {
  /** Epoch seconds: tokens issued at or before this are refused (clientId and session revocations). */
  revokedAt: number;
  /** Epoch seconds after which the entry no longer matters. */
  until: number;
}

export type RevocationKind = "jti" | "client" | "session";

export class RevocationRegistry {
  private readonly entries = new Map<string, Revocation>();
  private readonly listeners: Array<(key: string, r: Revocation) => void> = [];

  constructor(
    private readonly kv: KV,
    private readonly log: Logger,
  ) {}

  /** Loads current revocations, then follows changes until `signal` aborts. */
  async start(signal: AbortSignal): Promise<void> {
    await followBucket(this.kv, signal, this.log, "revocation", (e) => {
      if (e.operation === "PUT") this.set(e.key, e.json<Revocation>());
      else this.entries.delete(e.key);
    });
    const keys = await this.kv.keys();
    for await (const k of keys) {
      const e = await this.kv.get(k);
      if (hasValue(e)) this.set(k, e.json<Revocation>());
    }
  }

  /** Hears every new or changed revocation (the gateway closes matching sockets). */
  onRevoke(listener: (key: string, r: Revocation) => void): void {
    this.listeners.push(listener);
  }

  private set(key: string, r: Revocation): void {
    const old = this.entries.get(key);
    this.entries.set(key, r);
    if (old === undefined || old.revokedAt !== r.revokedAt || old.until !== r.until) for (const l of this.listeners) l(key, r);
  }

  /** Whether any entry refuses these claims (hot path: a map lookup or two, nothing when there are no entries). */
  isRevoked(appId: string, claims: TokenClaims): boolean {
    if (this.entries.size === 0) return false;
    if (claims.jti !== "" && this.entries.has(KvKeys.revokedJti(appId, claims.jti))) return true;
    if (claims.clientId !== undefined && this.refuses(KvKeys.revokedClient(appId, claims.clientId), claims)) return true;
    const session = sessionOf(claims);
    return session !== undefined && this.refuses(KvKeys.revokedSession(appId, session), claims);
  }

  /** What a revocation entry key (KvKeys.revoked*: `<kind>.<app>.<id>`) names: its kind and app. */
  static parseKey(key: string): { kind: RevocationKind; app: string } | undefined {
    const [kind, app] = key.split(".", 2);
    if (app === undefined || (kind !== "jti" && kind !== "client" && kind !== "session")) return undefined;
    return { kind, app };
  }

  private refuses(key: string, claims: TokenClaims): boolean {
    const r = this.entries.get(key);
    return r !== undefined && claims.iat <= r.revokedAt;
  }

  static async revoke(kv: KV, key: string, r: Revocation): Promise<void> {
    await kv.put(key, JSON.stringify(r));
  }
}

/** The session a token is for: a token whose only permitted pattern is the room `session:<id>`. */
export function sessionOf(claims: TokenClaims): string | undefined {
  let found: string | undefined;
  for (const pattern in claims.permissions) {
    if (found !== undefined || !pattern.startsWith(SESSION_ROOM_PREFIX) || pattern.includes("*")) return undefined;
    found = pattern.slice(SESSION_ROOM_PREFIX.length);
  }
  return found;
}
