/**
 * What every service's wiring (services/<name>/src/main.ts) starts with and ends with, written once: its settings
 * validated, a logger that warns about unknown SWITCHBOARD_* variables, a metrics registry, the secret box under the
 * master key, and the NATS runtime's connection options. main.ts files keep what differs: the buckets, registries
 * and routes of their service.
 */
import type { Registry } from "prom-client";
import { loadConfig, type ConfigOf, type Spec, commonSpec } from "./config.js";
import type { Running } from "./lifecycle.js";
import { createLogger, type Logger } from "./logger.js";
import { createRegistry } from "./metrics.js";
import { SecretBox, resolveMasterKey } from "./secretbox.js";
import { warnUnknownSettings } from "./settings.js";

export interface ServiceBase<C> {
  name: string;
  config: C;
  log: Logger;
  registry: Registry;
  box: SecretBox;
}

/** Loads the settings of `spec` (a ConfigError exits 2 through runService) and builds the shared pieces. */
export function serviceBase<S extends Spec & typeof commonSpec>(name: string, spec: S): ServiceBase<ConfigOf<S>> {
  const config = loadConfig(spec);
  const log = createLogger(name, config.LOG_LEVEL);
  warnUnknownSettings(log);
  const registry = createRegistry(name);
  const box = new SecretBox(resolveMasterKey(config.SWITCHBOARD_MASTER_KEY, log));
  return { name, config, log, registry, box };
}

/** The connection part of startNatsRuntime's options: servers and credentials, name, logger, signal and metrics. */
export function natsOptions(base: ServiceBase<ConfigOf<typeof commonSpec>>, signal: AbortSignal) {
  const { config } = base;
  return {
    servers: config.NATS_URL,
    user: config.NATS_USER,
    pass: config.NATS_PASSWORD,
    name: base.name,
    log: base.log,
    signal,
    registry: base.registry,
  };
}

/** A running HTTP service: stop closes the listener (in-flight requests finish), then NATS. */
export function httpRunning(app: { close(): Promise<unknown> }, nats: { close(): Promise<void> }): Running {
  return {
    stop: async () => {
      await app.close();
      await nats.close();
    },
  };
}
