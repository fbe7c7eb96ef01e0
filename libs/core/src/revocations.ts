/**
 * Revoked tokens (DESIGN §3): by `jti`, or every token of a clientId issued up to a moment. Entries live in the
 * revocations bucket (TTL longer than any token's life); every verifier keeps them in memory from a KV watch.
 */
import type { KV } from "@nats-io/kv";
import type { TokenClaims } from "@switchboard/protocol";
import type { Logger } from "./logger.js";
import { KvKeys } from "./subjects.js";

export interface Revocation {
  /** Epoch seconds: tokens issued at or before this are refused (clientId revocations). */
  revokedAt: number;
  /** Epoch seconds after which the entry no longer matters. */
  until: number;
}

export class RevocationRegistry {
  private readonly entries = new Map<string, Revocation>();
  private readonly listeners: Array<(key: string, r: Revocation) => void> = [];

  constructor(
    private readonly kv: KV,
    private readonly log: Logger,
  ) {}

  /** Loads current revocations, then follows changes until `signal` aborts. */
  async start(signal: AbortSignal): Promise<void> {
    const watch = await this.kv.watch({ include: "updates" });
    signal.addEventListener("abort", () => watch.stop(), { once: true });
    void (async () => {
      for await (const e of watch) {
        if (e.operation === "PUT") this.set(e.key, e.json<Revocation>());
        else this.entries.delete(e.key);
      }
    })().catch((err: unknown) => this.log.error({ err }, "revocation watch ended"));
    const keys = await this.kv.keys();
    for await (const k of keys) {
      const e = await this.kv.get(k);
      if (e !== null && e.operation === "PUT") this.set(k, e.json<Revocation>());
    }
  }

  /** Hears every new revocation (the gateway closes matching sockets). */
  onRevoke(listener: (key: string, r: Revocation) => void): void {
    this.listeners.push(listener);
  }

  private set(key: string, r: Revocation): void {
    const isNew = !this.entries.has(key);
    this.entries.set(key, r);
    if (isNew) for (const l of this.listeners) l(key, r);
  }

  isRevoked(appId: string, claims: TokenClaims): boolean {
    if (this.entries.size === 0) return false;
    if (claims.jti !== "" && this.entries.has(KvKeys.revokedJti(appId, claims.jti))) return true;
    if (claims.clientId !== undefined) {
      const r = this.entries.get(KvKeys.revokedClient(appId, claims.clientId));
      if (r !== undefined && claims.iat <= r.revokedAt) return true;
    }
    return false;
  }

  static async revoke(kv: KV, key: string, r: Revocation): Promise<void> {
    await kv.put(key, JSON.stringify(r));
  }
}
