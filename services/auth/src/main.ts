/** auth process wiring: config → logger/metrics → NATS runtime (buckets, dev key) → HTTP → run until SIGTERM. */
import {
  Buckets,
  KeyRegistry,
  STREAM_ROOMS,
  createAckPublisher,
  jetstream,
  jetstreamManager,
  natsModeration,
  openBuckets,
  readPresence,
  runService,
  startNatsRuntime,
  serviceBase,
  natsOptions,
  httpRunning,
} from "@switchboard/core";
import { buildAuthApp } from "./app.js";
import type { AuthDeps } from "./deps.js";
import { authSpec } from "./config.js";
import { ensureDevKey } from "./devkey.js";
import { createIssuer, MAX_TOKENS_PER_CALL } from "./issuer.js";
import { tracedIssuer } from "./tracing.js";
import { authMetrics } from "./metrics.js";
import { IssuanceLimiter } from "./ratelimit.js";
import { VENDOR_STORE_TIMEOUT_MS } from "./vendors/store.js";

const SERVICE = "auth";

runService(SERVICE, async (signal) => {
  const base = serviceBase(SERVICE, authSpec);
  const { config, log, registry, box } = base;
  const devKey = config.SWITCHBOARD_DEV_KEY;
  if (config.SWITCHBOARD_ADMIN_TOKEN === undefined) log.warn("SWITCHBOARD_ADMIN_TOKEN is not set: the admin API is disabled");
  if (config.SWITCHBOARD_TOKEN_BURST < MAX_TOKENS_PER_CALL)
    log.warn(
      { burst: config.SWITCHBOARD_TOKEN_BURST },
      `SWITCHBOARD_TOKEN_BURST is below ${MAX_TOKENS_PER_CALL}: larger counts are refused`,
    );

  const nats = startNatsRuntime<AuthDeps>({
    ...natsOptions(base, signal),
    setup: async (nc) => {
      const js = jetstream(nc);
      const jsm = await jetstreamManager(nc);
      const b = await openBuckets(
        js,
        [Buckets.apps, Buckets.keys, Buckets.sessions, Buckets.revocations, Buckets.moderation, Buckets.presence, Buckets.rooms],
        config.SWITCHBOARD_REPLICAS,
      );
      if (devKey !== undefined) await ensureDevKey(devKey, b[Buckets.apps], b[Buckets.keys], box, log);
      const keys = new KeyRegistry(b[Buckets.keys], box, log);
      await keys.start(signal);
      const publisher = createAckPublisher(nc, { timeoutMs: VENDOR_STORE_TIMEOUT_MS, stream: STREAM_ROOMS });
      signal.addEventListener("abort", () => publisher.close(), { once: true });
      return {
        nc,
        apps: b[Buckets.apps],
        keysKv: b[Buckets.keys],
        sessions: b[Buckets.sessions],
        revocations: b[Buckets.revocations],
        keys,
        keyById: (kid) => keys.get(kid),
        publisher,
        moderation: natsModeration(nc, jsm, log),
        mutes: b[Buckets.moderation],
        rooms: b[Buckets.rooms],
        presence: (app, room) => readPresence(js, jsm, app, room, log),
      };
    },
  });

  const metrics = authMetrics(registry);
  const issuer = tracedIssuer(
    createIssuer({
      limiter: new IssuanceLimiter({ rate: config.SWITCHBOARD_TOKEN_RATE, burst: config.SWITCHBOARD_TOKEN_BURST }),
      metrics,
    }),
  );
  const app = await buildAuthApp(
    {
      nats,
      box,
      adminToken: config.SWITCHBOARD_ADMIN_TOKEN,
      issuer,
      log,
      metrics,
      publicGatewayUrl: config.SWITCHBOARD_PUBLIC_GATEWAY_URL,
    },
    { service: SERVICE, registry, log },
  );
  await app.listen({ host: config.HOST, port: config.PORT });

  return {
    log,
    running: httpRunning(app, nats),
  };
});
