/** publish-ingest's settings (docs/CONFIG.md): the shared ones and the per-API-key publish rate. */
import { DEFAULT_PORTS, commonSpec, int, portSetting, type Spec } from "@switchboard/core";

/** Per-API-key publish limit: messages per second (0 = no limit) and burst. */
export const DEFAULT_INGEST_RATE = 10_000;
export const DEFAULT_INGEST_BURST = 20_000;

export const ingestSpec = {
  ...commonSpec,
  PORT: portSetting(DEFAULT_PORTS.ingest),
  SWITCHBOARD_INGEST_RATE: int(DEFAULT_INGEST_RATE, 0, 10_000_000),
  SWITCHBOARD_INGEST_BURST: int(DEFAULT_INGEST_BURST, 1, 10_000_000),
} satisfies Spec;
