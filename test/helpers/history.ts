/**
 * Helpers for the history tests: GETs with an API key or token, publishing many messages through publish-ingest
 * (recording the offsets it answered), a second app from the admin API, and a NATS client for what tests must
 * write straight into NATS (app records, presence records, history requests as a gateway sends them).
 */
import { Kvm, type KV } from "@nats-io/kv";
import { createLogger, connectNats, jetstream, jetstreamManager, type JetStreamManager, type NatsConnection } from "@switchboard/core";
import { publishHttp, type Cluster } from "./cluster.js";

export interface Page {
  messages: Array<{ room: string; id: string; offset: number; event: string; data: unknown; timestamp: number }>;
  next: string | null;
}

/** GET on the history service with `Authorization: Bearer <auth>` (an API key or a token); no header when null. */
export async function historyGet(
  cluster: Cluster,
  path: string,
  auth: string | null = cluster.devKey,
  service = "history",
): Promise<Response> {
  return fetch(`${cluster.services.get(service)!.url}${path}`, auth === null ? {} : { headers: { authorization: `Bearer ${auth}` } });
}

export async function historyJson<T = Page>(
  cluster: Cluster,
  path: string,
  auth: string = cluster.devKey,
  service = "history",
): Promise<T> {
  const res = await historyGet(cluster, path, auth, service);
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Publishes `count` messages (event `m`, data = index) to `room`, `concurrency` at a time; returns the offsets. */
export async function publishMany(
  cluster: Cluster,
  room: string,
  count: number,
  opts: { concurrency?: number; key?: string; from?: number } = {},
): Promise<number[]> {
  const offsets: number[] = [];
  let i = 0;
  const worker = async () => {
    while (i < count) {
      const n = (opts.from ?? 0) + i++;
      const headers = opts.key === undefined ? {} : { authorization: `Bearer ${opts.key}` };
      const res = await publishHttp(cluster, room, { event: "m", data: n }, headers);
      if (res.status !== 201) throw new Error(`publish failed: ${res.status} ${await res.text()}`);
      offsets.push(((await res.json()) as { offset: number }).offset);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 8 }, worker));
  return offsets.sort((a, b) => a - b);
}

/** A new app and an API key for it, through the admin API. */
export async function createApp(cluster: Cluster, name: string): Promise<{ appId: string; key: string }> {
  const admin = { authorization: `Bearer ${cluster.adminToken}`, "content-type": "application/json" };
  const app = await fetch(`${cluster.url("auth")}/v1/apps`, { method: "POST", headers: admin, body: JSON.stringify({ name }) });
  if (app.status !== 201 && app.status !== 200) throw new Error(`create app: ${app.status} ${await app.text()}`);
  const appId = ((await app.json()) as { id: string }).id;
  const key = await fetch(`${cluster.url("auth")}/v1/apps/${appId}/keys`, { method: "POST", headers: admin, body: "{}" });
  if (key.status !== 201 && key.status !== 200) throw new Error(`create key: ${key.status} ${await key.text()}`);
  return { appId, key: ((await key.json()) as { key: string }).key };
}

export interface TestNats {
  nc: NatsConnection;
  jsm: JetStreamManager;
  kv(bucket: string): Promise<KV>;
  close(): Promise<void>;
}

export async function openTestNats(cluster: Cluster): Promise<TestNats> {
  const nc = await connectNats(
    { servers: [cluster.nats.url], name: "history-test", log: createLogger("history-test", "silent") },
    new AbortController().signal,
  );
  const jsm = await jetstreamManager(nc);
  const kvm = new Kvm(jetstream(nc));
  return { nc, jsm, kv: (bucket) => kvm.open(bucket), close: () => nc.close() };
}

/** `/v1/rooms/<room>/messages?<params>`, leaving out undefined params. */
export const messagesPath = (room: string, params: Record<string, string | number | undefined>): string =>
  `/v1/rooms/${encodeURIComponent(room)}/messages?` +
  Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
    .join("&");
