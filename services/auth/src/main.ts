/** auth process wiring: config → logger/metrics → NATS runtime (buckets, dev key) → HTTP → run until SIGTERM. */
import {
  Buckets,
  DEFAULT_PORTS,
  KeyRegistry,
  SecretBox,
  authMetrics,
  commonSpec,
  createLogger,
  createRegistry,
  jetstream,
  loadConfig,
  openBuckets,
  portSetting,
  resolveMasterKey,
  runService,
  secretToken,
  startNatsRuntime,
  str,
} from "@switchboard/core";
import { createHttpService } from "@switchboard/http";
import { authRoutes, type AuthDeps } from "./app.js";
import { ensureDevKey, parseDevKey } from "./devkey.js";

const SERVICE = "auth";

runService(SERVICE, async (signal) => {
  const config = loadConfig({
    ...commonSpec,
    PORT: portSetting(DEFAULT_PORTS.auth),
    SWITCHBOARD_ADMIN_TOKEN: secretToken(16),
    SWITCHBOARD_DEV_KEY: str(),
  });
  const devKey = parseDevKey(config.SWITCHBOARD_DEV_KEY);
  const log = createLogger(SERVICE, config.LOG_LEVEL);
  const registry = createRegistry(SERVICE);
  const box = new SecretBox(resolveMasterKey(config.SWITCHBOARD_MASTER_KEY, log));
  if (config.SWITCHBOARD_ADMIN_TOKEN === undefined) log.warn("SWITCHBOARD_ADMIN_TOKEN is not set: the admin API is disabled");

  const nats = startNatsRuntime<AuthDeps>({
    servers: config.NATS_URL,
    name: SERVICE,
    log,
    signal,
    setup: async (nc) => {
      const js = jetstream(nc);
      const b = await openBuckets(
        js,
        [Buckets.apps, Buckets.keys, Buckets.sessions, Buckets.revocations],
        config.SWITCHBOARD_REPLICAS,
      );
      if (devKey !== undefined) await ensureDevKey(devKey, b[Buckets.apps], b[Buckets.keys], box, log);
      const keys = new KeyRegistry(b[Buckets.keys], box, log);
      await keys.start(signal);
      return { apps: b[Buckets.apps], keysKv: b[Buckets.keys], keys };
    },
  });

  const app = createHttpService({ service: SERVICE, log, registry, ready: nats.ready });
  await app.register(authRoutes, {
    nats,
    box,
    adminToken: config.SWITCHBOARD_ADMIN_TOKEN,
    metrics: authMetrics(registry),
  });
  await app.listen({ host: config.HOST, port: config.PORT });

  return {
    log,
    running: {
      stop: async () => {
        await app.close();
        await nats.close();
      },
    },
  };
});
