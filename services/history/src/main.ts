/** history process wiring: config → logger/metrics → NATS runtime (stream, buckets, request endpoint) → HTTP. */
import {
  Buckets,
  KeyRegistry,
  RevocationRegistry,
  ensureRoomsStream,
  jetstream,
  jetstreamManager,
  openBuckets,
  runService,
  startNatsRuntime,
  serviceBase,
  natsOptions,
  httpRunning,
} from "@switchboard/core";
import { buildHistoryApp } from "./app.js";
import { createCachedReader } from "./cache.js";
import { jetStreamCacheStore } from "./cachestore.js";
import { createCallers } from "./callers.js";
import { historySpec } from "./config.js";
import type { HistoryDeps } from "./deps.js";
import { serveHistoryRequests } from "./endpoint.js";
import { historyMetrics } from "./metrics.js";
import { createReader } from "./reader.js";
import { tracedReader } from "./tracing.js";
import { createRetentionPolicy } from "./retention.js";
import { createRoomState } from "./roomstate.js";

const SERVICE = "history";

runService(SERVICE, async (signal) => {
  const base = serviceBase(SERVICE, historySpec);
  const { config, log, registry, box } = base;
  const metrics = historyMetrics(registry);

  const nats = startNatsRuntime<HistoryDeps>({
    ...natsOptions(base, signal),
    setup: async (nc) => {
      const jsm = await jetstreamManager(nc);
      const stream = { maxAgeMs: config.SWITCHBOARD_RETENTION_MAX_AGE, maxMessagesPerRoom: config.SWITCHBOARD_RETENTION_MAX_MESSAGES };
      await ensureRoomsStream(jsm, { ...stream, replicas: config.SWITCHBOARD_REPLICAS }, log);
      const js = jetstream(nc);
      const b = await openBuckets(js, [Buckets.keys, Buckets.revocations, Buckets.apps, Buckets.presence], config.SWITCHBOARD_REPLICAS);
      const keys = new KeyRegistry(b[Buckets.keys], box, log);
      await keys.start(signal);
      const revocations = new RevocationRegistry(b[Buckets.revocations], log);
      await revocations.start(signal);
      const retention = createRetentionPolicy(b[Buckets.apps], stream, log);
      const reader = tracedReader(
        createCachedReader(createReader(js, jsm, retention.of), jetStreamCacheStore(js, jsm), retention.of, {
          maxBytes: config.SWITCHBOARD_HISTORY_CACHE_BYTES,
          log,
          metrics,
        }),
      );
      serveHistoryRequests(nc, reader, metrics, log);
      return { reader, roomState: createRoomState(nc, js, jsm, log), retention, callers: createCallers(keys, revocations) };
    },
  });

  const app = await buildHistoryApp({ nats, metrics }, { service: SERVICE, registry, log });
  await app.listen({ host: config.HOST, port: config.PORT });

  return {
    log,
    running: httpRunning(app, nats),
  };
});
