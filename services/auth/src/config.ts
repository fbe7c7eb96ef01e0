/** The auth service's settings (docs/CONFIG.md): the shared ones, the admin token, the dev key and issuance rates. */
import { DEFAULT_PORTS, apiKeySetting, commonSpec, int, portSetting, secretToken, type Spec } from "@switchboard/core";

export const authSpec = {
  ...commonSpec,
  PORT: portSetting(DEFAULT_PORTS.auth),
  SWITCHBOARD_ADMIN_TOKEN: secretToken(16),
  SWITCHBOARD_DEV_KEY: apiKeySetting(),
  SWITCHBOARD_TOKEN_RATE: int(1000, 1, 10_000_000),
  SWITCHBOARD_TOKEN_BURST: int(5000, 1, 10_000_000),
} satisfies Spec;
