/**
 * Per-app retention (docs/HTTP-API.md). The stream holds every app's messages for SWITCHBOARD_RETENTION_MAX_AGE and at
 * most SWITCHBOARD_RETENTION_MAX_MESSAGES per room; an app record may ask for less (`retention` in AppRecord), and
 * history enforces that: older messages are not returned, and a room is trimmed to the app's count in the stream
 * before it is read. An app cannot ask for more than the stream keeps. App records are read on demand and
 * cached briefly, so a change applies within a second without a restart.
 */
import { KvKeys, type AppRecord, type KV, type Logger, hasValue } from "@switchboard/core";
import type { AppRetention } from "./pager.js";

export interface StreamRetention {
  maxAgeMs: number;
  maxMessagesPerRoom: number;
}

export interface RetentionPolicy {
  /** The app's limits where stricter than the stream's. */
  of: (app: string) => Promise<AppRetention>;
  /** The app's effective limits. */
  effective(app: string): Promise<StreamRetention>;
}

const decoder = new TextDecoder();

/** Strict positive integers below the stream's; anything else falls back to the stream's value. */
export function stricterThan(stream: StreamRetention, record: AppRecord | undefined): AppRetention {
  const r = record?.retention;
  const out: AppRetention = {};
  const age = r?.maxAgeMs;
  const count = r?.maxMessagesPerRoom;
  if (typeof age === "number" && Number.isSafeInteger(age) && age > 0 && age < stream.maxAgeMs) out.maxAgeMs = age;
  if (typeof count === "number" && Number.isSafeInteger(count) && count > 0 && count < stream.maxMessagesPerRoom)
    out.maxMessagesPerRoom = count;
  return out;
}

/** How long an app's retention is cached: a change to the app record applies within this time. */
export const RETENTION_CACHE_MS = 1000;

/** Reads app records on demand, cached per app for RETENTION_CACHE_MS. */
export function createRetentionPolicy(apps: KV, stream: StreamRetention, log: Logger): RetentionPolicy {
  const cache = new Map<string, { at: number; limits: AppRetention }>();
  async function of(app: string): Promise<AppRetention> {
    const hit = cache.get(app);
    if (hit !== undefined && Date.now() - hit.at < RETENTION_CACHE_MS) return hit.limits;
    let limits: AppRetention = {};
    try {
      const e = await apps.get(KvKeys.app(app));
      if (hasValue(e)) limits = stricterThan(stream, JSON.parse(decoder.decode(e.value)) as AppRecord);
    } catch (err) {
      if (hit !== undefined) return hit.limits;
      log.warn({ err: (err as Error).message, app }, "cannot read the app record; using the stream's retention");
    }
    if (cache.size > 10_000) cache.clear();
    cache.set(app, { at: Date.now(), limits });
    return limits;
  }
  return {
    of,
    effective: async (app) => {
      const r = await of(app);
      return { maxAgeMs: r.maxAgeMs ?? stream.maxAgeMs, maxMessagesPerRoom: r.maxMessagesPerRoom ?? stream.maxMessagesPerRoom };
    },
  };
}
