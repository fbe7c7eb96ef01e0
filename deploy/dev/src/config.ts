/** The `npm start` launcher's settings (docs/CONFIG.md): where NATS and the data live, and the services' ports. */
import { join } from "node:path";
import { DEFAULT_PORTS, commonSpec, int, setting, str, type Spec } from "@switchboard/core";
import { REPO_ROOT } from "./processes.js";

const natsUrl = str();
const dataDir = str(join(REPO_ROOT, ".data"));

export const launcherSpec = {
  NATS_URL: setting(natsUrl, { default: "unset: an embedded nats-server", accepts: "nats://host:port, comma-separated for several" }),
  SWITCHBOARD_GATEWAY_PORT: int(DEFAULT_PORTS.gateway, 1, 65535),
  SWITCHBOARD_AUTH_PORT: int(DEFAULT_PORTS.auth, 1, 65535),
  SWITCHBOARD_INGEST_PORT: int(DEFAULT_PORTS.ingest, 1, 65535),
  SWITCHBOARD_HISTORY_PORT: int(DEFAULT_PORTS.history, 1, 65535),
  LOG_LEVEL: commonSpec.LOG_LEVEL,
  SWITCHBOARD_DATA_DIR: setting(dataDir, { default: ".data in the repository", accepts: "a directory path" }),
} satisfies Spec;
