/**
 * What the history HTTP app is built from. `HistoryDeps` is the NATS side, available once the runtime's setup is
 * done (main.ts builds it; route tests stub it: each member is a small interface); `HistoryOptions` is the rest of
 * the app's wiring. Routes and the NATS endpoint import these types from here, never from each other.
 */
import type { NatsRuntime } from "@switchboard/core";
import type { Callers } from "./callers.js";
import type { HistoryMetrics } from "./metrics.js";
import type { Reader } from "./reader.js";
import type { RetentionPolicy } from "./retention.js";
import type { RoomState } from "./roomstate.js";

export interface HistoryDeps {
  /** Pages of a room's messages (the read cache in front of the JetStream reader). */
  reader: Reader;
  /** Presence, occupancy and active rooms. */
  roomState: RoomState;
  /** Per-app retention (the active-rooms list caps counts with it). */
  retention: Pick<RetentionPolicy, "effective">;
  /** Who is asking: an app API key or a token. */
  callers: Callers;
}

export interface HistoryOptions {
  nats: NatsRuntime<HistoryDeps>;
  metrics: HistoryMetrics;
}
