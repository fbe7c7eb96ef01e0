/**
 * The dev launcher behind `npm start` (docs/CONFIG.md): an embedded nats-server with JetStream under ./.data unless
 * NATS_URL is set, the four services as child processes with prefixed logs, their URLs and a dev API key printed,
 * and a clean stop on Ctrl-C.
 */
import { join } from "node:path";
import { ConfigError, loadConfig } from "@switchboard/core";
import { launcherSpec } from "./config.js";
import { loadDevSecrets } from "./devconfig.js";
import {
  NatsServerNotFoundError,
  findNatsServer,
  freePort,
  startNatsServer,
  startService,
  waitReady,
  type NatsServerHandle,
  type ServiceHandle,
  type ServiceName,
} from "./processes.js";

const COLORS: Record<ServiceName | "nats", string> = {
  auth: "\x1b[35m",
  "publish-ingest": "\x1b[33m",
  "fanout-gateway": "\x1b[36m",
  history: "\x1b[32m",
  nats: "\x1b[90m",
};
const RESET = "\x1b[0m";
// Undefined (not false) when stdout is not a terminal, whatever @types/node says.
const tty = (process.stdout.isTTY as boolean | undefined) === true;

function prefix(name: ServiceName | "nats"): string {
  const label = `[${name}]`.padEnd(17);
  return tty ? `${COLORS[name]}${label}${RESET}` : label;
}

/** Prints a pino JSON line as `[service] level message {fields}`; anything else as is. */
function printLine(name: ServiceName | "nats", line: string): void {
  let text = line;
  if (line.startsWith("{")) {
    try {
      const { level, time: _t, service: _s, msg, pid: _p, hostname: _h, ...rest } = JSON.parse(line) as Record<string, unknown>;
      const lv =
        typeof level === "number"
          ? (({ 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" } as Record<number, string>)[level] ??
            String(level))
          : String(level);
      const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : "";
      text = `${lv.padEnd(5)} ${typeof msg === "string" ? msg : ""}${extra}`;
    } catch {
      // not JSON after all
    }
  }
  process.stdout.write(`${prefix(name)} ${text}\n`);
}

async function main(): Promise<void> {
  const config = loadConfig(launcherSpec);
  const dataDir = config.SWITCHBOARD_DATA_DIR;

  let nats: NatsServerHandle | undefined;
  let natsUrl = config.NATS_URL;
  if (natsUrl === undefined) {
    const bin = findNatsServer();
    nats = await startNatsServer({
      bin,
      port: await freePort(),
      storeDir: join(dataDir, "nats"),
      onLog: (l) => {
        if (/\[(ERR|WRN|FTL)\]/.test(l)) printLine("nats", l);
      },
    });
    natsUrl = nats.url;
    printLine("nats", `embedded nats-server (${bin}) with JetStream on ${natsUrl}, store ${nats.storeDir}`);
  }

  const secrets = loadDevSecrets(join(dataDir, "dev.json"));
  const env = {
    NATS_URL: natsUrl,
    LOG_LEVEL: config.LOG_LEVEL,
    SWITCHBOARD_MASTER_KEY: secrets.masterKey,
    SWITCHBOARD_ADMIN_TOKEN: secrets.adminToken,
    SWITCHBOARD_DEV_KEY: secrets.devKey,
  };
  const ports: Record<ServiceName, number> = {
    auth: config.SWITCHBOARD_AUTH_PORT,
    "publish-ingest": config.SWITCHBOARD_INGEST_PORT,
    history: config.SWITCHBOARD_HISTORY_PORT,
    "fanout-gateway": config.SWITCHBOARD_GATEWAY_PORT,
  };
  const services: ServiceHandle[] = [];
  let stopping = false;

  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write("\nstopping…\n");
    await Promise.all(services.map((s) => s.stop()));
    await nats?.stop();
    process.exit(code);
  };
  process.on("SIGINT", () => void stopAll(0));
  process.on("SIGTERM", () => void stopAll(0));

  for (const name of Object.keys(ports) as ServiceName[]) {
    const svc = await startService(name, { port: ports[name], env, onLine: (l) => printLine(name, l) });
    services.push(svc);
    void svc.exited.then((code) => {
      if (!stopping) {
        printLine(name, `exited with code ${code}; stopping the others`);
        void stopAll(1);
      }
    });
  }
  await Promise.all(services.map((s) => waitReady(s, 60_000)));

  const url = (n: ServiceName) => `http://127.0.0.1:${ports[n]}`;
  process.stdout.write(
    [
      "",
      "Switchboard is running:",
      `  gateway   ws://127.0.0.1:${ports["fanout-gateway"]}/v1/ws   (demo: ${url("fanout-gateway")}/demo/)`,
      `  auth      ${url("auth")}`,
      `  ingest    ${url("publish-ingest")}`,
      `  history   ${url("history")}`,
      `  NATS      ${natsUrl}`,
      "",
      `  dev API key:  ${secrets.devKey}`,
      `  admin token:  ${secrets.adminToken}`,
      "",
      "Press Ctrl-C to stop.",
      "",
    ].join("\n"),
  );
}

main().catch((err: unknown) => {
  if (err instanceof NatsServerNotFoundError || err instanceof ConfigError) {
    process.stderr.write(`switchboard: ${err.message}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  }
  process.stderr.write(`switchboard: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
