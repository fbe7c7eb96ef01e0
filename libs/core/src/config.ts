/**
 * Environment configuration, validated once at boot. A bad value is a ConfigError naming the variable; the process
 * runner prints it and exits with code 2 (docs/CONFIG.md). Each setting also says how docs/CONFIG.md shows it (its
 * default and the values it accepts), so the document is generated from the code that reads the variables; which
 * process reads which variable is in settings.ts.
 */
import { RETENTION_BOUNDS, RETENTION_DEFAULTS, parseApiKey, type Bounds } from "@switchboard/protocol";

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly code = "config";
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

export type Env = Record<string, string | undefined>;

/** How docs/CONFIG.md shows a setting. */
export interface SettingDoc {
  /** The default as an operator would write it, or what an unset variable means. */
  readonly default: string;
  /** The values accepted. */
  readonly accepts: string;
}

/** A setting: reads its variable from the environment, returns a typed value or throws ConfigError. */
export interface Setting<T> {
  (env: Env, variable: string): T;
  readonly doc: SettingDoc;
}

/** A setting from its reader (a function, or another setting shown differently) and its documentation. */
export function setting<T>(read: (env: Env, variable: string) => T, doc: SettingDoc): Setting<T> {
  return Object.assign((env: Env, variable: string) => read(env, variable), { doc });
}

function raw(env: Env, variable: string): string | undefined {
  const v = env[variable];
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

export function str(def: string): Setting<string>;
export function str(def?: undefined): Setting<string | undefined>;
export function str(def?: string): Setting<string | undefined> {
  return setting((env, variable) => raw(env, variable) ?? def, { default: def ?? "unset", accepts: "text" });
}

export function int(def: number, min: number, max: number): Setting<number> {
  return setting(
    (env, variable) => {
      const v = raw(env, variable);
      if (v === undefined) return def;
      if (!/^-?\d+$/.test(v)) throw new ConfigError(variable, `expected an integer, got ${JSON.stringify(v)}`);
      const n = Number(v);
      if (n < min || n > max) throw new ConfigError(variable, `must be from ${min} to ${max}, got ${n}`);
      return n;
    },
    { default: String(def), accepts: `an integer from ${min} to ${max}` },
  );
}

/** An integer within `bounds` (one of libs/protocol limits.ts), `def` when unset. */
export function bounded(def: number, bounds: Bounds): Setting<number> {
  return int(def, bounds.min, bounds.max);
}

export function oneOf<const T extends string>(def: T, values: readonly T[]): Setting<T> {
  return setting(
    (env, variable) => {
      const v = raw(env, variable);
      if (v === undefined) return def;
      if (!(values as readonly string[]).includes(v))
        throw new ConfigError(variable, `must be one of ${values.join(", ")}, got ${JSON.stringify(v)}`);
      return v as T;
    },
    { default: def, accepts: `one of ${values.join(", ")}` },
  );
}

const DURATION_RE = /^(\d+)(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration like `24h`, `90s`, `500ms` or a bare number of seconds; returns milliseconds. */
export function duration(def: number, minMs: number, maxMs: number): Setting<number> {
  return setting(
    (env, variable) => {
      const v = raw(env, variable);
      if (v === undefined) return def;
      const m = DURATION_RE.exec(v);
      if (!m) throw new ConfigError(variable, `expected a duration like 90s, 15m, 24h or 7d, got ${JSON.stringify(v)}`);
      const ms = Number(m[1]) * (UNIT_MS[m[2] ?? "s"] ?? 1000);
      if (ms < minMs || ms > maxMs)
        throw new ConfigError(variable, `must be from ${minMs / 1000}s to ${maxMs / 1000}s, got ${JSON.stringify(v)}`);
      return ms;
    },
    {
      default: formatDuration(def),
      accepts: `a duration from ${formatDuration(minMs)} to ${formatDuration(maxMs)}: a number with ms, s, m, h or d (a bare number is seconds)`,
    },
  );
}

/** `ms` in the largest unit that divides it: 86400000 → "1d", 5400000 → "90m". */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const)
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/** One or more comma-separated nats:// (or tls://) URLs. */
export function natsServers(def: string): Setting<string[]> {
  return setting(
    (env, variable) => {
      const v = raw(env, variable) ?? def;
      const servers = v.split(",").map((s) => s.trim());
      for (const s of servers) {
        if (!/^(nats|tls|ws|wss):\/\/[^\s/]+$/.test(s) && !/^[^\s:/]+:\d+$/.test(s))
          throw new ConfigError(variable, `expected nats://host:port (comma-separated for several), got ${JSON.stringify(s)}`);
      }
      return servers;
    },
    { default: def, accepts: "nats://host:port (also tls://, ws://, wss://), comma-separated for several" },
  );
}

/** An http:// or https:// URL, or unset. */
export function httpUrl(): Setting<string | undefined> {
  return setting(
    (env, variable) => {
      const v = raw(env, variable);
      if (v === undefined) return undefined;
      let url: URL | undefined;
      try {
        url = new URL(v);
      } catch {
        url = undefined;
      }
      if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:"))
        throw new ConfigError(variable, `expected an http:// or https:// URL, got ${JSON.stringify(v)}`);
      return v;
    },
    { default: "unset", accepts: "an http:// or https:// URL" },
  );
}

export function host(def: string): Setting<string> {
  return setting(
    (env, variable) => {
      const v = raw(env, variable) ?? def;
      if (!/^[A-Za-z0-9.:\-[\]]+$/.test(v)) throw new ConfigError(variable, `expected a host name or IP address, got ${JSON.stringify(v)}`);
      return v;
    },
    { default: def, accepts: "a host name or IP address" },
  );
}

/** 32 bytes as 64 hex characters or base64/base64url. */
export function masterKey(): Setting<Buffer | undefined> {
  return setting(
    (env, variable) => {
      const v = raw(env, variable);
      if (v === undefined) {
        // The built-in key is public (it is in this repository): never acceptable where images run.
        if (raw(env, "NODE_ENV") === "production")
          throw new ConfigError(variable, "is required when NODE_ENV=production: 32 random bytes (try: openssl rand -hex 32)");
        return undefined;
      }
      const buf = /^[0-9a-fA-F]{64}$/.test(v) ? Buffer.from(v, "hex") : Buffer.from(v, "base64");
      if (buf.length !== 32)
        throw new ConfigError(variable, "must be 32 random bytes as 64 hex characters or base64 (try: openssl rand -hex 32)");
      return buf;
    },
    {
      default: "unset: a built-in development key, with a warning (refused when NODE_ENV=production, as in the images)",
      accepts: "32 random bytes as 64 hex characters or base64",
    },
  );
}

export function secretToken(minLength: number): Setting<string | undefined> {
  return setting(
    (env, variable) => {
      const v = raw(env, variable);
      if (v !== undefined && v.length < minLength)
        throw new ConfigError(variable, `must be at least ${minLength} characters (try: openssl rand -hex 24)`);
      return v;
    },
    { default: "unset", accepts: `at least ${minLength} characters` },
  );
}

/** The least length of a dev key's secret. */
export const DEV_KEY_SECRET_MIN = 32;

/** An API key `appId.keyId:secret` (SWITCHBOARD_DEV_KEY); its parts. */
export function apiKeySetting(): Setting<{ appId: string; keyId: string; secret: string } | undefined> {
  return setting(
    (env, variable) => {
      const v = raw(env, variable);
      if (v === undefined) return undefined;
      const parsed = parseApiKey(v);
      if (parsed === undefined) throw new ConfigError(variable, "expected appId.keyId:secret (ids from A-Z a-z 0-9 _ -)");
      if (parsed.secret.length < DEV_KEY_SECRET_MIN)
        throw new ConfigError(variable, `the secret must be at least ${DEV_KEY_SECRET_MIN} characters`);
      return parsed;
    },
    { default: "unset", accepts: `appId.keyId:secret (ids from A-Z a-z 0-9 _ -, a secret of at least ${DEV_KEY_SECRET_MIN} characters)` },
  );
}

export type Spec = Record<string, Setting<unknown>>;
export type ConfigOf<S extends Spec> = { readonly [K in keyof S]: ReturnType<S[K]> };

/** Reads every setting of `spec` (keys are variable names) from `env`. Throws the first ConfigError. */
export function loadConfig<S extends Spec>(spec: S, env: Env = process.env): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  for (const [variable, setting] of Object.entries(spec)) out[variable] = setting(env, variable);
  return out as ConfigOf<S>;
}

/** Settings every service shares (docs/CONFIG.md). */
export const commonSpec = {
  NATS_URL: natsServers("nats://127.0.0.1:4222"),
  NATS_USER: str(),
  NATS_PASSWORD: secretToken(16),
  HOST: host("0.0.0.0"),
  LOG_LEVEL: oneOf("info", ["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
  SWITCHBOARD_MASTER_KEY: masterKey(),
  SWITCHBOARD_REPLICAS: int(1, 1, 5),
  SWITCHBOARD_RETENTION_MAX_AGE: duration(RETENTION_DEFAULTS.maxAgeMs, RETENTION_BOUNDS.maxAgeMs.min, RETENTION_BOUNDS.maxAgeMs.max),
  SWITCHBOARD_RETENTION_MAX_MESSAGES: bounded(RETENTION_DEFAULTS.maxMessagesPerRoom, RETENTION_BOUNDS.maxMessagesPerRoom),
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl(),
} satisfies Spec;

export function portSetting(def: number): Setting<number> {
  return int(def, 0, 65535);
}

export const DEFAULT_PORTS = { gateway: 8080, auth: 8081, ingest: 8082, history: 8083 } as const;
