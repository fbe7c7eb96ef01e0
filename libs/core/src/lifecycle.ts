/**
 * One process runner for every service: builds the service under one AbortSignal, turns SIGTERM/SIGINT into an
 * orderly stop with a hard deadline, and maps a ConfigError at boot to exit code 2 (docs/CONFIG.md). It also starts the
 * OpenTelemetry SDK before the service when OTEL_EXPORTER_OTLP_ENDPOINT is set (service name `switchboard-<name>`),
 * and flushes its spans after the service stopped.
 */
import { ConfigError, commonSpec, loadConfig } from "./config.js";
import { setMaxListeners } from "node:events";
import type { Logger } from "./logger.js";
import { startTracing, type TracingHandle } from "./tracing.js";

export const SHUTDOWN_DEADLINE_MS = 10_000;
/** Listeners a service's stop signal may have before Node warns of a leak (one per long-lived component). */
const SIGNAL_LISTENERS_MAX = 64;
/** How long the last spans may take to export at shutdown (an unreachable collector must not hold the exit). */
const TRACE_FLUSH_MS = 2000;

export interface Running {
  /** Stops accepting, drains, closes connections. Must finish before the deadline. */
  stop(): Promise<void>;
}

export interface ServiceHandle {
  log: Logger;
  running: Running;
}

/**
 * Runs `start`, which builds config, clients and servers and returns the running service. Exits the process when the
 * service stops (0), fails to boot (1), or is misconfigured (2).
 */
export function runService(name: string, start: (signal: AbortSignal) => Promise<ServiceHandle>): void {
  const abort = new AbortController();
  // Every long-lived component (bucket watches, publishers, registries, the NATS runtime) stops on this signal: a
  // dozen or two listeners by design, none per request or socket. Above Node's default of 10 it would warn.
  setMaxListeners(SIGNAL_LISTENERS_MAX, abort.signal);
  let handle: ServiceHandle | undefined;
  let tracing: TracingHandle | undefined;
  let stopping = false;

  const flushTraces = async (): Promise<void> => {
    if (tracing === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((res) => (timer = setTimeout(res, TRACE_FLUSH_MS)));
    await Promise.race([tracing.shutdown().catch((err: unknown) => handle?.log.warn({ err }, "could not flush traces")), late]);
    clearTimeout(timer);
  };

  const stop = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    abort.abort();
    const timer = setTimeout(() => {
      process.stderr.write(`${name}: shutdown exceeded ${SHUTDOWN_DEADLINE_MS} ms, exiting\n`);
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    timer.unref();
    if (handle === undefined) process.exit(0);
    handle.log.info({ reason }, "shutting down");
    handle.running
      .stop()
      .then(flushTraces)
      .then(
        () => {
          handle?.log.info("stopped");
          handle?.log.flush();
          process.exit(0);
        },
        (err: unknown) => {
          handle?.log.error({ err }, "error during shutdown");
          process.exit(1);
        },
      );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));

  // Tracing first, so the service's spans go to the SDK from its first request (a bad endpoint is a ConfigError, exit 2).
  const boot = async (): Promise<ServiceHandle> => {
    const { OTEL_EXPORTER_OTLP_ENDPOINT } = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: commonSpec.OTEL_EXPORTER_OTLP_ENDPOINT });
    tracing = await startTracing(name, OTEL_EXPORTER_OTLP_ENDPOINT);
    return start(abort.signal);
  };
  boot().then(
    (h) => {
      handle = h;
      if (tracing !== undefined) h.log.info({ collector: tracing.collector }, "exporting traces over OTLP/HTTP");
      process.on("uncaughtException", (err) => {
        h.log.fatal({ err }, "uncaught exception");
        process.exit(1);
      });
      process.on("unhandledRejection", (err) => {
        h.log.fatal({ err }, "unhandled promise rejection");
        process.exit(1);
      });
      if (stopping) stop("signal during boot");
    },
    (err: unknown) => {
      if (err instanceof ConfigError) {
        process.stderr.write(`${name}: invalid configuration: ${err.message}\n`);
        process.exit(2);
      }
      process.stderr.write(`${name}: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
