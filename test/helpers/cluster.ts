/**
 * A whole Switchboard for a test: its own nats-server (random port, temporary store) and the four services as
 * separate processes on free ports, with a dev key, an admin token and a master key. Everything is stopped and
 * the store removed by `close()`.
 */
import {
  ephemeralEnv,
  startNatsServer,
  startService,
  waitReady,
  type NatsServerHandle,
  type NatsServerOptions,
  type ServiceHandle,
  type ServiceName,
} from "@switchboard/dev";

/** The four services as processes on some NATS (a single nats-server, or a cluster's URLs). */
export interface Services {
  services: Map<string, ServiceHandle>;
  env: Record<string, string>;
  devKey: string;
  adminToken: string;
  url(service: ServiceName): string;
  wsUrl(token: string, service?: ServiceHandle): string;
  /** Starts one more copy of a service (e.g. a second gateway) with the cluster's env. */
  add(name: ServiceName, key?: string, env?: Record<string, string>): Promise<ServiceHandle>;
  /** Stops every service. */
  close(): Promise<void>;
}

export interface Cluster extends Services {
  nats: NatsServerHandle;
}

export interface ClusterOptions {
  services?: ServiceName[];
  env?: Record<string, string>;
  /** Environment of one kind of service only (its NATS credentials, say), on top of `env`. */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /** How to start the nats-server (a configuration file and its environment). */
  nats?: NatsServerOptions;
}

export const ALL_SERVICES: ServiceName[] = ["auth", "publish-ingest", "history", "fanout-gateway"];

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const nats = await startNatsServer(opts.nats);
  try {
    const services = await startServices(nats.url, opts);
    const close = async () => {
      await services.close();
      await nats.dispose();
    };
    return { ...services, nats, close };
  } catch (err) {
    await nats.dispose();
    throw err;
  }
}

/** Starts the services (all four unless `opts.services` says) on the NATS at `natsUrl` (comma-separated URLs). */
export async function startServices(natsUrl: string, opts: ClusterOptions = {}): Promise<Services> {
  const fresh = ephemeralEnv(natsUrl);
  const { devKey, adminToken } = fresh;
  const env: Record<string, string> = { ...fresh.env, ...opts.env };
  const services = new Map<string, ServiceHandle>();
  const add = async (name: ServiceName, key: string = name, extra: Record<string, string> = {}) => {
    const svc = await startService(name, { env: { ...env, ...opts.serviceEnv?.[name], ...extra } });
    services.set(key, svc);
    await waitReady(svc);
    return svc;
  };
  const close = async () => {
    await Promise.all([...services.values()].map((s) => s.kill()));
  };
  try {
    await Promise.all((opts.services ?? ALL_SERVICES).map((s) => add(s)));
  } catch (err) {
    await close();
    throw err;
  }
  const get = (name: string) => {
    const s = services.get(name);
    if (s === undefined) throw new Error(`service ${name} is not running in this cluster`);
    return s;
  };
  return {
    services,
    env,
    devKey,
    adminToken,
    url: (name) => get(name).url,
    wsUrl: (token, svc) => `ws://127.0.0.1:${(svc ?? get("fanout-gateway")).port}/v1/ws?token=${encodeURIComponent(token)}`,
    add,
    close,
  };
}

export async function issueToken(cluster: Services, body: Record<string, unknown> = {}): Promise<string> {
  const res = await fetch(`${cluster.url("auth")}/v1/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${cluster.devKey}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`token request failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

/**
 * A set-up publish that must be stored: a 503 (JetStream slow to acknowledge, as it can be on a loaded machine right
 * after the cluster starts) is retried after its Retry-After, as a client would, up to five times; anything else but a
 * 201 fails with the answer's body. For publishes a test asserts on, use publishHttp.
 */
export async function publishStored(cluster: Services, room: string, body: Record<string, unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const res = await publishHttp(cluster, room, body);
    if (res.status === 201) return;
    const text = await res.text();
    if (res.status !== 503 || attempt === 5) throw new Error(`publish to ${room} answered ${res.status}: ${text}`);
    const wait = Math.min(1000, Number(res.headers.get("retry-after") ?? "1") * 1000);
    await new Promise((r) => setTimeout(r, wait));
  }
}

export async function publishHttp(
  cluster: Services,
  room: string,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
  ingest?: ServiceHandle,
): Promise<Response> {
  return fetch(
    `${(ingest ?? cluster.services.get("publish-ingest"))?.url ?? cluster.url("publish-ingest")}/v1/rooms/${encodeURIComponent(room)}/messages`,
    {
      method: "POST",
      headers: { authorization: `Bearer ${cluster.devKey}`, "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    },
  );
}
