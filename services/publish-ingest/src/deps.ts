/**
 * What the publish-ingest HTTP app is built from. `IngestDeps` is the NATS side, available once the runtime's setup
 * is done (main.ts builds it; route tests stub it: each member is a small interface); `IngestOptions` is the rest of
 * the app's wiring. Routes import these types from here, never from each other.
 */
import type { AckPublisher, ApiKeyAuthenticator, Moderation, NatsRuntime } from "@switchboard/core";
import type { IngestMetrics } from "./metrics.js";
import type { RateLimiter } from "./ratelimit.js";

export interface IngestDeps {
  /** Authenticates app API requests (KeyRegistry). */
  keys: ApiKeyAuthenticator;
  /** Stores messages in the rooms stream; resolves only with JetStream's acknowledgement. */
  publisher: AckPublisher;
  /** Disconnect commands and message deletion, reaching every gateway. */
  moderation: Moderation;
}

export interface IngestOptions {
  nats: NatsRuntime<IngestDeps>;
  metrics: IngestMetrics;
  /** Per-API-key publish rate. */
  limiter: RateLimiter;
}
