/**
 * Every environment variable a Switchboard process reads, which processes read it and what it does: the one
 * registry behind the boot warning for unknown `SWITCHBOARD_*` variables and behind docs/CONFIG.md. Operators often
 * give every service the same environment, so a variable another process reads is not a typo; only a
 * `SWITCHBOARD_*` variable that no process reads is warned about, naming the closest known one.
 *
 * Each process's settings (its `loadConfig` spec, with defaults and bounds) live beside its main.ts in config.ts;
 * test/config.test.ts checks that they and this registry name the same variables, and that docs/CONFIG.md is
 * what they generate.
 */
import type { Logger } from "./logger.js";

/** The processes that read environment variables: the four services and the `npm start` launcher. */
export const READERS = ["auth", "publish-ingest", "fanout-gateway", "history", "launcher"] as const;
export type Reader = (typeof READERS)[number];

export interface KnownVariable {
  readonly readers: readonly Reader[];
  /** For operators: what it does (docs/CONFIG.md). */
  readonly description: string;
}

const SERVICES = ["auth", "publish-ingest", "fanout-gateway", "history"] as const satisfies readonly Reader[];

export const VARIABLES: Readonly<Record<string, KnownVariable>> = {
  NATS_URL: {
    readers: [...SERVICES, "launcher"],
    description:
      "The NATS server(s) to connect to. Services retry until one answers (not ready meanwhile). The launcher starts an embedded nats-server when it is unset.",
  },
  NATS_USER: {
    readers: SERVICES,
    description:
      "The service's NATS user, with NATS_PASSWORD. Production gives each service its own user allowed only its subjects (deploy/nats/users.conf, docs/SECURITY.md); unset: no credentials.",
  },
  NATS_PASSWORD: {
    readers: SERVICES,
    description: "NATS_USER's password (at least 16 characters). Never logged.",
  },
  HOST: { readers: SERVICES, description: "Address the HTTP/WebSocket listener binds (the launcher passes 127.0.0.1)." },
  PORT: { readers: SERVICES, description: "Port the HTTP/WebSocket listener binds." },
  LOG_LEVEL: { readers: [...SERVICES, "launcher"], description: "Least level of the JSON log lines written to stdout." },
  OTEL_EXPORTER_OTLP_ENDPOINT: {
    readers: SERVICES,
    description:
      "Turns tracing on: the OpenTelemetry SDK starts and exports spans over OTLP/HTTP (JSON) to this collector URL (`/v1/traces` is appended), as service `switchboard-<service>`. Unset: no SDK is loaded. The SDK's standard OTEL_* variables apply too (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS, OTEL_BSP_SCHEDULE_DELAY, OTEL_TRACES_SAMPLER, OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME); see docs/OPERATIONS.md.",
  },
  SWITCHBOARD_MASTER_KEY: {
    readers: SERVICES,
    description: "Encrypts API key secrets at rest in NATS KV. Must be the same on every service; set it in production.",
  },
  SWITCHBOARD_REPLICAS: { readers: SERVICES, description: "Replicas of the rooms stream and of every KV bucket (3 in production)." },
  SWITCHBOARD_RETENTION_MAX_AGE: {
    readers: SERVICES,
    description:
      "How long room messages are kept in the rooms stream (set on it by publish-ingest and history; every service checks the value). An app record's retention.maxAgeMs may ask for less (history hides older messages).",
  },
  SWITCHBOARD_RETENTION_MAX_MESSAGES: {
    readers: SERVICES,
    description:
      "Messages kept per room in the rooms stream (set on it by publish-ingest and history; every service checks the value). An app record's retention.maxMessagesPerRoom may ask for fewer (history trims the room before reading it).",
  },
  SWITCHBOARD_ADMIN_TOKEN: {
    readers: ["auth"],
    description: "Bearer token of the admin API (/v1/apps…). Unset: the admin API answers 403.",
  },
  SWITCHBOARD_DEV_KEY: {
    readers: ["auth", "fanout-gateway"],
    description:
      "A development API key. auth creates its app and key at boot if missing; the gateway uses it only for the demo page's token route, which answers direct loopback callers only.",
  },
  SWITCHBOARD_TOKEN_RATE: { readers: ["auth"], description: "Tokens one API key may be issued per second (a count of N costs N)." },
  SWITCHBOARD_TOKEN_BURST: {
    readers: ["auth"],
    description: "Tokens one API key may be issued at once; a count above it is refused with 429.",
  },
  SWITCHBOARD_PUBLIC_GATEWAY_URL: {
    readers: ["auth"],
    description:
      "The gateway's public WebSocket URL as clients reach it; auth puts it into vendor tokens (an OpenVidu connection's token is <this>/v1/ws?sessionId=…&token=…).",
  },
  SWITCHBOARD_INGEST_RATE: {
    readers: ["publish-ingest"],
    description: "HTTP publishes per second per API key (a batch counts each message; 0 = no limit); past it 429 with Retry-After.",
  },
  SWITCHBOARD_INGEST_BURST: { readers: ["publish-ingest"], description: "HTTP publishes one API key may make at once." },
  SWITCHBOARD_MAX_ROOMS_PER_SOCKET: {
    readers: ["fanout-gateway"],
    description: "Rooms one socket may subscribe; the default for apps without their own limits.maxRoomsPerSocket.",
  },
  SWITCHBOARD_PUBLISH_RATE: {
    readers: ["fanout-gateway"],
    description:
      "Client publishes per second per socket (over it a publish is answered rate_limited); the default for apps without their own limits.publishRate.",
  },
  SWITCHBOARD_PUBLISH_BURST: {
    readers: ["fanout-gateway"],
    description: "Client publishes one socket may make at once; the default for apps without their own limits.publishBurst.",
  },
  SWITCHBOARD_MAX_OUTBOUND_BYTES: {
    readers: ["fanout-gateway"],
    description:
      "Outbound buffer past which a socket is closed with 4009 (slow consumer); the default for apps without their own limits.maxOutboundBytes.",
  },
  SWITCHBOARD_MAX_CONNECTIONS_PER_APP: {
    readers: ["fanout-gateway"],
    description:
      "Open sockets one app may hold on one gateway process; a socket past it is closed with 1013 (try again later), so one app's flood cannot take a gateway from the others. The default for apps without their own limits.maxConnections.",
  },
  SWITCHBOARD_ALLOWED_ORIGINS: {
    readers: ["fanout-gateway"],
    description:
      "Per-app Origin allow-list, app1=https://a.example,https://b.example;app2=…; a listed app's sockets from another Origin get HTTP 403 (no Origin header: allowed). An app's own limits.allowedOrigins replaces its entry.",
  },
  SWITCHBOARD_HISTORY_CACHE_BYTES: {
    readers: ["history"],
    description:
      "Memory for hot rooms' messages (estimated); the least recently read room is dropped first. Pages of a cached room are answered from memory after a freshness check against JetStream; 0 reads every page from JetStream.",
  },
  SWITCHBOARD_GATEWAY_PORT: { readers: ["launcher"], description: "Port the launcher gives the fanout-gateway." },
  SWITCHBOARD_AUTH_PORT: { readers: ["launcher"], description: "Port the launcher gives auth." },
  SWITCHBOARD_INGEST_PORT: { readers: ["launcher"], description: "Port the launcher gives publish-ingest." },
  SWITCHBOARD_HISTORY_PORT: { readers: ["launcher"], description: "Port the launcher gives history." },
  SWITCHBOARD_DATA_DIR: {
    readers: ["launcher"],
    description: "Where the launcher keeps the embedded nats-server's store and the generated development secrets (dev.json).",
  },
};

const PREFIX = "SWITCHBOARD_";

/** Edit distance (insert, delete, substitute, each 1). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/** The known variable nearest to `name`. */
export function closestVariable(name: string): string {
  let best = "";
  let bestDistance = Infinity;
  for (const known of Object.keys(VARIABLES)) {
    const d = distance(name, known);
    if (d < bestDistance) [best, bestDistance] = [known, d];
  }
  return best;
}

/** The `SWITCHBOARD_*` variables of `env` that no Switchboard process reads, each with the closest known one. */
export function unknownSettings(env: Record<string, string | undefined>): Array<{ variable: string; closest: string }> {
  return Object.keys(env)
    .filter((v) => v.startsWith(PREFIX) && !(v in VARIABLES))
    .sort()
    .map((variable) => ({ variable, closest: closestVariable(variable) }));
}

/** Logs one warning per `SWITCHBOARD_*` variable no Switchboard process reads (a typo must not pass silently). */
export function warnUnknownSettings(log: Logger, env: Record<string, string | undefined> = process.env): void {
  for (const { variable, closest } of unknownSettings(env))
    log.warn({ variable, closest }, `${variable} is not a Switchboard setting and is ignored; did you mean ${closest}?`);
}
