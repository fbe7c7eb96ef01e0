/**
 * What the auth HTTP app is built from. `AuthDeps` is the NATS side, available once the runtime's setup is done
 * (main.ts builds it from the buckets; route tests stub it); `AuthOptions` is the rest of the app's wiring. Routes
 * import these types from here, never from each other.
 */
import type { KV } from "@nats-io/kv";
import type {
  AckPublisher,
  ApiKeyAuthenticator,
  Logger,
  Moderation,
  NatsConnection,
  NatsRuntime,
  PresenceRecord,
  ResolvedKey,
  SecretBox,
} from "@switchboard/core";
import type { Issuer } from "./issuer.js";
import type { AuthMetrics } from "./metrics.js";

export interface AuthDeps {
  /** Session close announcements and occupancy gathered from the gateways. */
  nc: NatsConnection;
  apps: KV;
  /** The keys bucket (key records, written by the admin API). */
  keysKv: KV;
  sessions: KV;
  revocations: KV;
  /** Authenticates app API requests (KeyRegistry). */
  keys: ApiKeyAuthenticator;
  /** A key by its id `appId.keyId` (KeyRegistry.get), for vendor auth schemes that sign with the secret instead of sending it. */
  keyById(kid: string): Promise<ResolvedKey | undefined>;
  /** Stores messages in the rooms stream (vendor signals and events); resolves only with JetStream's acknowledgement. */
  publisher: AckPublisher;
  /** Disconnect, mute and delete commands reaching every gateway (vendor moderation calls). */
  moderation: Moderation;
  /** The moderation bucket: mutes by clientId that outlive a socket (KvKeys.mute). */
  mutes: KV;
  /** Per-room settings (Buckets.rooms): IVS Chat rooms and their limits. */
  rooms: KV;
  /** A room's presence members on every gateway (vendor connection status). */
  presence(app: string, room: string): Promise<PresenceRecord[]>;
}

export interface AuthOptions {
  nats: NatsRuntime<AuthDeps>;
  box: SecretBox;
  /** Unset: the admin API answers 403. */
  adminToken: string | undefined;
  issuer: Issuer;
  log: Logger;
  metrics: AuthMetrics;
  /** SWITCHBOARD_PUBLIC_GATEWAY_URL: the gateway URL put into vendor tokens (OpenVidu connect URLs). */
  publicGatewayUrl: string;
}
