/**
 * The NATS side of a service process: connects in the background (retrying), runs the service's setup (streams,
 * buckets, watches) once connected, and tracks readiness. HTTP listens at once and answers 503 until ready.
 */
import { unavailable } from "@switchboard/protocol";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Registry } from "prom-client";
import { ConfigError } from "./config.js";
import { connectNats } from "./nats.js";
import { isStreamNotFound } from "./natserrors.js";
import type { Logger } from "./logger.js";
import { natsConnectionMetrics } from "./metrics.js";

export interface NatsRuntime<T> {
  /** NATS connected and setup complete. */
  ready(): boolean;
  /** The setup result; throws `unavailable` (503, retry) while not ready. */
  get(): T;
  /** Resolves once setup is complete (rejects if the runtime is closed first). */
  whenReady(): Promise<T>;
  connection(): NatsConnection | undefined;
  /** Drains the connection (flushes pending publishes, ends subscriptions). */
  close(): Promise<void>;
}

/** A runtime that is ready at once with `deps`: for route tests, whose NATS side is stubbed. */
export function readyRuntime<T>(deps: T): NatsRuntime<T> {
  return {
    ready: () => true,
    get: () => deps,
    whenReady: () => Promise.resolve(deps),
    connection: () => undefined,
    close: () => Promise.resolve(),
  };
}

export function startNatsRuntime<T>(opts: {
  servers: string[];
  /** NATS_USER / NATS_PASSWORD, when the server requires credentials. */
  user?: string | undefined;
  pass?: string | undefined;
  name: string;
  log: Logger;
  signal: AbortSignal;
  setup: (nc: NatsConnection) => Promise<T>;
  /** Where to count the connection's disconnects and reconnects (switchboard_nats_*_total). */
  registry?: Registry;
}): NatsRuntime<T> {
  if (opts.pass !== undefined && opts.user === undefined) throw new ConfigError("NATS_PASSWORD", "is set without NATS_USER; set both");
  const counts = opts.registry === undefined ? undefined : natsConnectionMetrics(opts.registry);
  let nc: NatsConnection | undefined;
  let deps: T | undefined;
  let connected = false;
  let resolveReady!: (t: T) => void;
  let rejectReady!: (e: Error) => void;
  const readyPromise = new Promise<T>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  readyPromise.catch(() => undefined);

  const boot = async (): Promise<void> => {
    nc = await connectNats({ servers: opts.servers, user: opts.user, pass: opts.pass, name: opts.name, log: opts.log }, opts.signal);
    connected = true;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect") {
          connected = false;
          counts?.disconnects.inc();
        } else if (s.type === "reconnect") {
          connected = true;
          counts?.reconnects.inc();
        }
      }
    })();
    for (let attempt = 1; ; attempt++) {
      if (opts.signal.aborted) throw new Error("aborted during setup");
      try {
        deps = await opts.setup(nc);
        break;
      } catch (err) {
        // At a normal start the gateway can be up before publish-ingest or history created the rooms stream: that is
        // waiting, not a failure, until it lasts.
        if (isStreamNotFound(err) && attempt < 10) {
          if (attempt === 1) opts.log.info("waiting for the rooms stream (publish-ingest or history creates it)");
        } else if (attempt === 1 || attempt % 10 === 0)
          opts.log.warn({ err: (err as Error).message, attempt }, "JetStream setup failed; retrying");
        await new Promise((r) => setTimeout(r, Math.min(2000, 200 * attempt)));
      }
    }
    opts.log.info("ready");
    resolveReady(deps);
  };
  boot().catch((err: unknown) => {
    if (!opts.signal.aborted) opts.log.error({ err }, "NATS boot failed");
    rejectReady(err instanceof Error ? err : new Error(String(err)));
  });

  return {
    ready: () => deps !== undefined && connected && nc !== undefined && !nc.isClosed(),
    get: () => {
      if (deps === undefined || !connected) throw unavailable("NATS JetStream is not available; retry shortly");
      return deps;
    },
    whenReady: () => readyPromise,
    connection: () => nc,
    close: async () => {
      if (nc !== undefined && !nc.isClosed()) {
        try {
          await nc.drain();
        } catch (err) {
          opts.log.warn({ err: (err as Error).message }, "NATS drain failed; closing");
          await nc.close();
        }
      }
    },
  };
}
