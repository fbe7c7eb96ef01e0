/** publish-ingest process wiring: config → logger/metrics → NATS runtime → HTTP → run until SIGTERM. */
import {
  Buckets,
  KeyRegistry,
  STREAM_ROOMS,
  createAckPublisher,
  ensureRoomsStream,
  jetstream,
  jetstreamManager,
  natsModeration,
  openBuckets,
  runService,
  startNatsRuntime,
  serviceBase,
  natsOptions,
  httpRunning,
} from "@switchboard/core";
import { buildIngestApp } from "./app.js";
import { ingestSpec } from "./config.js";
import type { IngestDeps } from "./deps.js";
import { ingestMetrics } from "./metrics.js";
import { createRateLimiter } from "./ratelimit.js";
import { STORE_TIMEOUT_MS } from "./store.js";

const SERVICE = "publish-ingest";

runService(SERVICE, async (signal) => {
  const base = serviceBase(SERVICE, ingestSpec);
  const { config, log, registry, box } = base;

  const nats = startNatsRuntime<IngestDeps>({
    ...natsOptions(base, signal),
    setup: async (nc) => {
      const jsm = await jetstreamManager(nc);
      await ensureRoomsStream(
        jsm,
        {
          maxAgeMs: config.SWITCHBOARD_RETENTION_MAX_AGE,
          maxMessagesPerRoom: config.SWITCHBOARD_RETENTION_MAX_MESSAGES,
          replicas: config.SWITCHBOARD_REPLICAS,
        },
        log,
      );
      const js = jetstream(nc);
      const buckets = await openBuckets(js, [Buckets.keys], config.SWITCHBOARD_REPLICAS);
      const keys = new KeyRegistry(buckets[Buckets.keys], box, log);
      await keys.start(signal);
      const publisher = createAckPublisher(nc, { timeoutMs: STORE_TIMEOUT_MS, stream: STREAM_ROOMS });
      signal.addEventListener("abort", () => publisher.close(), { once: true });
      return { keys, publisher, moderation: natsModeration(nc, jsm, log) };
    },
  });

  const app = await buildIngestApp(
    {
      nats,
      metrics: ingestMetrics(registry),
      limiter: createRateLimiter({ rate: config.SWITCHBOARD_INGEST_RATE, burst: config.SWITCHBOARD_INGEST_BURST }),
    },
    { service: SERVICE, registry, log },
  );
  await app.listen({ host: config.HOST, port: config.PORT });

  return {
    log,
    running: httpRunning(app, nats),
  };
});
