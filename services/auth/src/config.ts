/** The auth service's settings (docs/CONFIG.md): the shared ones, the admin token, the dev key, issuance rates and the
 * public gateway URL of vendor tokens. */
import {
  ConfigError,
  DEFAULT_PORTS,
  apiKeySetting,
  commonSpec,
  int,
  portSetting,
  secretToken,
  setting,
  type Setting,
  type Spec,
} from "@switchboard/core";

/** A ws:// or wss:// base URL (no query, no fragment), given without its trailing slash. */
function wsBaseUrl(def: string): Setting<string> {
  return setting(
    (env, variable) => {
      const v = env[variable]?.trim() || def;
      let url: URL;
      try {
        url = new URL(v);
      } catch {
        throw new ConfigError(variable, `expected a ws:// or wss:// URL, got ${JSON.stringify(v)}`);
      }
      if ((url.protocol !== "ws:" && url.protocol !== "wss:") || url.search !== "" || url.hash !== "" || url.username !== "")
        throw new ConfigError(variable, `expected a ws:// or wss:// URL without query or credentials, got ${JSON.stringify(v)}`);
      return v.replace(/\/+$/, "");
    },
    { default: def, accepts: "a ws:// or wss:// URL (a path prefix is kept)" },
  );
}

export const authSpec = {
  ...commonSpec,
  PORT: portSetting(DEFAULT_PORTS.auth),
  SWITCHBOARD_ADMIN_TOKEN: secretToken(16),
  SWITCHBOARD_DEV_KEY: apiKeySetting(),
  SWITCHBOARD_TOKEN_RATE: int(1000, 1, 10_000_000),
  SWITCHBOARD_TOKEN_BURST: int(5000, 1, 10_000_000),
  SWITCHBOARD_PUBLIC_GATEWAY_URL: wsBaseUrl(`ws://127.0.0.1:${DEFAULT_PORTS.gateway}`),
} satisfies Spec;
