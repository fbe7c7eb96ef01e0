/**
 * Per-app socket limits (docs/PROTOCOL.md). App records are read from the apps bucket on first use and kept fresh by a KV
 * watch (the KeyRegistry pattern), so resolving an app's limits at upgrade costs no round trip once the app is known
 * and a change reaches new sockets as soon as the watch delivers it. A socket keeps the limits it was opened with.
 */
import { KvKeys, followBucket, validAppLimits, type AppRecord, type KV, type Logger, hasValue } from "@switchboard/core";
import type { OriginAllowList } from "./origin.js";

/** What one socket is held to; resolved once at upgrade and stored on its Conn. */
export interface SocketLimits {
  maxRoomsPerSocket: number;
  publishRate: number;
  publishBurst: number;
  maxOutboundBytes: number;
  maxFrameBytes: number;
  maxConnections: number;
  /** Browser Origins allowed (lower-case); undefined = any. */
  origins: ReadonlySet<string> | undefined;
}

export type LimitDefaults = Omit<SocketLimits, "origins">;

const decoder = new TextDecoder();
const MAX_CACHED_APPS = 10_000;

/** The app's own settings over the gateway's defaults; its allowedOrigins replace the env list's entry. */
export function resolveLimits(
  defaults: LimitDefaults,
  envOrigins: OriginAllowList,
  appId: string,
  record: AppRecord | undefined,
): SocketLimits {
  const l = validAppLimits(record?.limits);
  return {
    maxRoomsPerSocket: l.maxRoomsPerSocket ?? defaults.maxRoomsPerSocket,
    publishRate: l.publishRate ?? defaults.publishRate,
    publishBurst: l.publishBurst ?? defaults.publishBurst,
    maxOutboundBytes: l.maxOutboundBytes ?? defaults.maxOutboundBytes,
    maxFrameBytes: Math.min(l.maxFrameBytes ?? defaults.maxFrameBytes, defaults.maxFrameBytes),
    maxConnections: l.maxConnections ?? defaults.maxConnections,
    origins: l.allowedOrigins !== undefined ? new Set(l.allowedOrigins) : envOrigins.get(appId),
  };
}

export class AppLimitsRegistry {
  /** Resolved limits by app id, with the KV revision they came from (an older read never replaces a newer one). */
  private readonly cache = new Map<string, { revision: number; limits: SocketLimits }>();

  constructor(
    private readonly kv: KV,
    private readonly defaults: LimitDefaults,
    private readonly envOrigins: OriginAllowList,
    private readonly log: Logger,
  ) {}

  /** Watches app record changes until `signal` aborts. */
  async start(signal: AbortSignal): Promise<void> {
    // Every change is kept (app records are few and small), so a first read racing a change cannot leave the older
    // record cached: the higher revision wins.
    await followBucket(this.kv, signal, this.log, "app", (e) => this.store(e.key, e.revision, e.operation === "PUT" ? e.value : undefined));
  }

  /** The cached limits of `appId`, without I/O (undefined until get() read the app once). */
  peek(appId: string): SocketLimits | undefined {
    return this.cache.get(appId)?.limits;
  }

  /** Reads in flight by app: a burst of first connects of an app reads its record once. */
  private readonly loading = new Map<string, Promise<SocketLimits>>();

  /** The limits of `appId`, from the cache or read once from KV. Throws when KV cannot be read. */
  get(appId: string): Promise<SocketLimits> {
    const hit = this.cache.get(appId);
    if (hit !== undefined) return Promise.resolve(hit.limits);
    let p = this.loading.get(appId);
    if (p === undefined) {
      p = this.load(appId).finally(() => this.loading.delete(appId));
      this.loading.set(appId, p);
    }
    return p;
  }

  private async load(appId: string): Promise<SocketLimits> {
    const e = await this.kv.get(KvKeys.app(appId));
    return this.store(appId, e?.revision ?? 0, hasValue(e) ? e.value : undefined);
  }

  private store(appId: string, revision: number, value: Uint8Array | undefined): SocketLimits {
    const prev = this.cache.get(appId);
    if (prev !== undefined && prev.revision > revision) return prev.limits;
    let record: AppRecord | undefined;
    if (value !== undefined) {
      try {
        record = JSON.parse(decoder.decode(value)) as AppRecord;
      } catch (err) {
        this.log.error({ err: (err as Error).message, app: appId }, "unreadable app record; using the default limits");
      }
    }
    const limits = resolveLimits(this.defaults, this.envOrigins, appId, record);
    if (this.cache.size >= MAX_CACHED_APPS && prev === undefined) this.cache.clear();
    this.cache.set(appId, { revision, limits });
    return limits;
  }
}
