/**
 * App records in the apps bucket (docs/HTTP-API.md) under KvKeys.app(id): the app's name and its own settings, read by
 * auth's admin API, the gateway (socket limits, applimits.ts) and history (retention).
 */
import type { KV } from "@nats-io/kv";
import type { AppLimits, AppRetentionSettings } from "./applimits.js";
import { KvKeys } from "./subjects.js";
import { hasValue } from "./watch.js";

export interface AppRecord {
  id: string;
  name: string;
  createdAt: number;
  /** Per-app history retention (docs/HTTP-API.md); history enforces it where stricter than the stream's. */
  retention?: AppRetentionSettings;
  /** Per-app socket limits (docs/PROTOCOL.md); each one unset falls back to the gateway's SWITCHBOARD_* default. */
  limits?: AppLimits;
}

const decoder = new TextDecoder();

/** Stores an app record (creating or replacing it). */
export async function putApp(kv: KV, app: AppRecord): Promise<void> {
  await kv.put(KvKeys.app(app.id), JSON.stringify(app));
}

export async function getApp(kv: KV, appId: string): Promise<AppRecord | undefined> {
  const e = await kv.get(KvKeys.app(appId));
  return !hasValue(e) ? undefined : (JSON.parse(decoder.decode(e.value)) as AppRecord);
}
