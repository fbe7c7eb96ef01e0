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
