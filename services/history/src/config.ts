/** The history service's settings (docs/CONFIG.md): the shared ones and the read cache's memory. */
import { DEFAULT_PORTS, commonSpec, int, portSetting, type Spec } from "@switchboard/core";

export const historySpec = {
  ...commonSpec,
  PORT: portSetting(DEFAULT_PORTS.history),
  // Estimated bytes of hot rooms held in memory (cache.ts); 0 turns the cache off.
  SWITCHBOARD_HISTORY_CACHE_BYTES: int(256 * 1024 * 1024, 0, 64 * 1024 * 1024 * 1024),
} satisfies Spec;
