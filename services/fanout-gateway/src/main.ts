/** fanout-gateway process wiring: config → uWS (native or refuse) → NATS runtime → sockets, until SIGTERM. */
import {
  Buckets,
  KeyRegistry,
  RevocationRegistry,
  STREAM_ROOMS,
  createAckPublisher,
  jetstream,
  jetstreamManager,
  openBuckets,
  runService,
  startNatsRuntime,
  serviceBase,
  natsOptions,
} from "@switchboard/core";
import { AppLimitsRegistry } from "./apps.js";
import { DEFAULT_LIMITS, type GatewayDeps, type GatewayLimits } from "./deps.js";
import { Gateway } from "./gateway.js";
import { createGatewayMetrics } from "./metrics.js";
import { gatewaySpec } from "./config.js";
import { MuteRegistry } from "./mutes.js";
import { RoomChatRegistry } from "./roomchat.js";
import { loadUws } from "./uws.js";

const SERVICE = "fanout-gateway";
/** How long a client publish waits for the JetStream acknowledgement before answering `unavailable`. */
const PUBLISH_TIMEOUT_MS = 2000;

runService(SERVICE, async (signal) => {
  const base = serviceBase(SERVICE, gatewaySpec);
  const { config, log, registry, box } = base;
  const uws = loadUws();
  // The defaults for apps without their own `limits` in their app record.
  const limits: GatewayLimits = {
    ...DEFAULT_LIMITS,
    maxRoomsPerSocket: config.SWITCHBOARD_MAX_ROOMS_PER_SOCKET,
    publishRate: config.SWITCHBOARD_PUBLISH_RATE,
    publishBurst: config.SWITCHBOARD_PUBLISH_BURST,
    maxOutboundBytes: config.SWITCHBOARD_MAX_OUTBOUND_BYTES,
    maxConnections: config.SWITCHBOARD_MAX_CONNECTIONS_PER_APP,
  };

  const nats = startNatsRuntime<GatewayDeps>({
    ...natsOptions(base, signal),
    setup: async (nc) => {
      const jsm = await jetstreamManager(nc);
      const js = jetstream(nc);
      const b = await openBuckets(
        js,
        [Buckets.keys, Buckets.revocations, Buckets.presence, Buckets.moderation, Buckets.apps, Buckets.rooms, Buckets.sessions],
        config.SWITCHBOARD_REPLICAS,
      );
      const keys = new KeyRegistry(b[Buckets.keys], box, log);
      await keys.start(signal);
      const revocations = new RevocationRegistry(b[Buckets.revocations], log);
      await revocations.start(signal);
      // The rooms stream is owned by publish-ingest and history; the gateway waits until it exists.
      await jsm.streams.info(STREAM_ROOMS);
      const publisher = createAckPublisher(nc, { timeoutMs: PUBLISH_TIMEOUT_MS, stream: STREAM_ROOMS });
      const mutes = new MuteRegistry(b[Buckets.moderation], log);
      await mutes.start(signal);
      const apps = new AppLimitsRegistry(b[Buckets.apps], limits, config.SWITCHBOARD_ALLOWED_ORIGINS, log);
      await apps.start(signal);
      const roomChat = new RoomChatRegistry(b[Buckets.rooms], log);
      await roomChat.start(signal);
      return {
        nc,
        js,
        jsm,
        keys,
        revocations,
        presence: b[Buckets.presence],
        sessions: b[Buckets.sessions],
        publisher,
        mutes,
        apps,
        roomChat,
      };
    },
  });

  const gateway = new Gateway({
    uws,
    log,
    registry,
    metrics: createGatewayMetrics(registry),
    nats,
    limits,
  });
  const port = await gateway.listen(config.HOST, config.PORT);
  log.info({ host: config.HOST, port }, "listening");

  return {
    log,
    running: {
      stop: async () => {
        await gateway.stop();
        await nats.close();
      },
    },
  };
});
