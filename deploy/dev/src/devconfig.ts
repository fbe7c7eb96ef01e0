/**
 * Development secrets for the launcher: a master key, an admin token and a dev API key, generated once and kept
 * in ./.data/dev.json (git-ignored) so restarts keep working tokens. Env vars win over the file.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export interface DevSecrets {
  masterKey: string;
  adminToken: string;
  devKey: string;
}

export function loadDevSecrets(file: string, env: NodeJS.ProcessEnv = process.env): DevSecrets {
  let stored: Partial<DevSecrets> = {};
  if (existsSync(file)) stored = JSON.parse(readFileSync(file, "utf8")) as Partial<DevSecrets>;
  const secrets: DevSecrets = {
    masterKey: stored.masterKey ?? randomBytes(32).toString("hex"),
    adminToken: stored.adminToken ?? randomBytes(24).toString("base64url"),
    devKey: stored.devKey ?? `dev.devkey:${randomBytes(32).toString("base64url")}`,
  };
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(secrets, null, 2) + "\n", { mode: 0o600 });
  return {
    masterKey: env["SWITCHBOARD_MASTER_KEY"] || secrets.masterKey,
    adminToken: env["SWITCHBOARD_ADMIN_TOKEN"] || secrets.adminToken,
    devKey: env["SWITCHBOARD_DEV_KEY"] || secrets.devKey,
  };
}

export interface EphemeralEnv {
  env: Record<string, string>;
  devKey: string;
  adminToken: string;
}

/**
 * Fresh random secrets for a throw-away deployment (tests, benchmarks): a master key, an admin token and a dev key
 * `<appId>.key1:<secret>`, as the environment every service of it shares.
 */
export function ephemeralEnv(natsUrl: string, appId = "app1"): EphemeralEnv {
  const devKey = `${appId}.key1:${randomBytes(32).toString("base64url")}`;
  const adminToken = randomBytes(24).toString("base64url");
  return {
    devKey,
    adminToken,
    env: {
      NATS_URL: natsUrl,
      LOG_LEVEL: "warn",
      SWITCHBOARD_MASTER_KEY: randomBytes(32).toString("hex"),
      SWITCHBOARD_ADMIN_TOKEN: adminToken,
      SWITCHBOARD_DEV_KEY: devKey,
    },
  };
}
