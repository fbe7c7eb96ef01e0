/**
 * What the fanout-gateway is built from. `GatewayDeps` is the NATS side, available once the runtime's setup is done
 * (main.ts builds it); `GatewayOptions` is the rest of the wiring; `GatewayLimits` the operator's socket limits.
 * Modules import these types from here, never from each other.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { Registry } from "prom-client";
import { SOCKET_LIMIT_DEFAULTS, type SocketLimits as SocketLimitDefaults } from "@switchboard/protocol";
import type { AckPublisher, KV, KeyRegistry, Logger, NatsRuntime, RevocationRegistry } from "@switchboard/core";
import type { AppLimitsRegistry } from "./apps.js";
import type { GatewayMetrics } from "./metrics.js";
import type { MuteRegistry } from "./mutes.js";
import type { RoomChatRegistry } from "./roomchat.js";
import type { Uws } from "./uws.js";

export interface GatewayDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  keys: KeyRegistry;
  revocations: RevocationRegistry;
  /** The presence bucket (Buckets.presence). */
  presence: KV;
  /** The sessions bucket (Buckets.sessions): OpenTok client tokens are accepted only for sessions that exist. */
  sessions: KV;
  /** Client publishes: acked only once JetStream stored them, refused at once while NATS is disconnected. */
  publisher: AckPublisher;
  /** Per-app socket limits (app records over the limits below), resolved once per socket at upgrade. */
  apps: AppLimitsRegistry;
  /** Clients muted per room, shared by every gateway through the moderation bucket. */
  mutes: MuteRegistry;
  /** IVS chat rooms' message length and rate limits (room-settings bucket). */
  roomChat: RoomChatRegistry;
}

/** The socket limits are the defaults for apps without their own `limits` (AppRecord); the rest are per process. */
export interface GatewayLimits extends SocketLimitDefaults {
  /** Malformed frames tolerated before closing with 4008. */
  maxBadFrames: number;
  idleTimeoutS: number;
}

export const DEFAULT_LIMITS: GatewayLimits = {
  ...SOCKET_LIMIT_DEFAULTS,
  maxBadFrames: 10,
  idleTimeoutS: 60,
};

export interface GatewayOptions {
  uws: Uws;
  log: Logger;
  registry: Registry;
  metrics: GatewayMetrics;
  nats: NatsRuntime<GatewayDeps>;
  limits: GatewayLimits;
}
