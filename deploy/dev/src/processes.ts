/**
 * Child processes for the dev launcher and the tests: an embedded nats-server with JetStream (temporary or
 * persistent store, free port) and Switchboard services started from their built entry files.
 */
import {
  spawn,
  type ChildProcess,
  type ChildProcessByStdio,
  type SpawnOptions,
  type SpawnOptionsWithStdioTuple,
  type StdioNull,
  type StdioPipe,
} from "node:child_process";
import type { Readable } from "node:stream";
import { accessSync, constants, mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./ports.js";

export { freePort };

/** Repository root (deploy/dev/dist → ../../..). */
export const REPO_ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "../../..");

export const SERVICES = ["auth", "publish-ingest", "fanout-gateway", "history"] as const;
export type ServiceName = (typeof SERVICES)[number];

export class NatsServerNotFoundError extends Error {
  override readonly name = "NatsServerNotFoundError";
  readonly code = "nats_server_not_found";
}

/** NATS_SERVER_BIN, else `nats-server` on PATH (plus /usr/sbin and /usr/local/bin, where Debian puts it). */
export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env["NATS_SERVER_BIN"];
  if (explicit !== undefined && explicit !== "") {
    if (isExecutable(explicit)) return explicit;
    throw new NatsServerNotFoundError(`NATS_SERVER_BIN=${explicit} is not an executable file`);
  }
  const dirs = [...(env["PATH"] ?? "").split(delimiter), "/usr/sbin", "/usr/local/bin", "/usr/bin"];
  for (const dir of dirs) {
    if (dir === "") continue;
    const candidate = join(dir, "nats-server");
    if (isExecutable(candidate)) return candidate;
  }
  throw new NatsServerNotFoundError(
    "no nats-server found: install it (Debian/Ubuntu: apt-get install nats-server), set NATS_SERVER_BIN to its path, or set NATS_URL to a running NATS with JetStream",
  );
}

/**
 * Spawns `command` so that it dies with this process. Tests and the launcher start nats-servers and services as
 * children; when the parent is killed outright (a test runner hitting its timeout, SIGKILL), nothing it could run
 * stops them, and left-over servers kept loading the machine for hours. util-linux's `setpriv --pdeathsig` (Debian:
 * always installed) asks the kernel to SIGKILL the child when its parent dies, then execs the command in place: the
 * pid, signals and exit codes are the command's own. Without setpriv the command is spawned as it is.
 */
const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => isExecutable(p));

export function spawnTied(
  command: string,
  args: readonly string[],
  options: Omit<SpawnOptions, "stdio"> = {},
): ChildProcessByStdio<null, Readable, Readable> {
  const opts: SpawnOptionsWithStdioTuple<StdioNull, StdioPipe, StdioPipe> = { ...options, stdio: ["ignore", "pipe", "pipe"] };
  return SETPRIV === undefined ? spawn(command, args, opts) : spawn(SETPRIV, ["--pdeathsig", "SIGKILL", "--", command, ...args], opts);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface NatsServerHandle {
  url: string;
  port: number;
  storeDir: string;
  process: ChildProcess;
  /** SIGKILL (a crash); `start()` brings it back on the same port and store. */
  kill(): Promise<void>;
  /** Graceful stop. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops and removes a temporary store. */
  dispose(): Promise<void>;
}

export interface NatsServerOptions {
  bin?: string;
  port?: number;
  /** Store directory; a temporary one (removed by dispose) when absent. */
  storeDir?: string;
  onLog?: (line: string) => void;
  /** A configuration file (`-c`); the port, address and store given here override what it says. */
  config?: string;
  /** Extra environment for nats-server (values a configuration file refers to as `$NAME`). */
  env?: Record<string, string>;
}

export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const bin = opts.bin ?? findNatsServer();
  const port = opts.port ?? (await freePort());
  const temporary = opts.storeDir === undefined;
  const storeDir = opts.storeDir ?? mkdtempSync(join(tmpdir(), "sb-nats-"));
  mkdirSync(storeDir, { recursive: true });
  let proc!: ChildProcess;

  const start = () =>
    new Promise<void>((res, rej) => {
      const config = opts.config === undefined ? [] : ["-c", opts.config];
      proc = spawnTied(bin, [...config, "-js", "-a", "127.0.0.1", "-p", String(port), "-sd", storeDir], {
        env: { ...process.env, ...opts.env },
      });
      let seen = "";
      const timer = setTimeout(() => rej(new Error(`nats-server did not become ready in 30 s:\n${seen.slice(-2000)}`)), 30_000);
      const onData = (chunk: Buffer) => {
        const text = chunk.toString();
        for (const line of text.split("\n")) if (line.trim() !== "") opts.onLog?.(line);
        if (seen.length < 20_000) seen += text;
        if (seen.includes("Server is ready")) {
          clearTimeout(timer);
          res();
        }
      };
      proc.stdout?.on("data", onData);
      proc.stderr?.on("data", onData);
      proc.once("exit", (code) => {
        clearTimeout(timer);
        rej(new Error(`nats-server exited with code ${code}:\n${seen.slice(-2000)}`));
      });
    });

  const waitExit = (signal: NodeJS.Signals) =>
    new Promise<void>((res) => {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        res();
        return;
      }
      proc.once("exit", () => res());
      proc.kill(signal);
    });

  await start();
  const handle: NatsServerHandle = {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    get process() {
      return proc;
    },
    kill: () => waitExit("SIGKILL"),
    stop: () => waitExit("SIGTERM"),
    start,
    dispose: async () => {
      await waitExit("SIGTERM");
      if (temporary) rmSync(storeDir, { recursive: true, force: true });
    },
  };
  return handle;
}

export interface ServiceHandle {
  name: ServiceName;
  port: number;
  url: string;
  process: ChildProcess;
  /** Everything the process wrote (stdout and stderr), for assertions and failure reports. */
  output(): string;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

export interface ServiceOptions {
  port?: number;
  env?: Record<string, string>;
  /** Flags for node before the entry point (`--cpu-prof` and the like, which NODE_OPTIONS does not take). */
  nodeArgs?: string[];
  onLine?: (line: string) => void;
}

export function serviceEntry(name: ServiceName): string {
  return join(REPO_ROOT, "services", name, "dist", "main.js");
}

/** Starts a built service as a child process (node services/<name>/dist/main.js). */
export async function startService(name: ServiceName, opts: ServiceOptions = {}): Promise<ServiceHandle> {
  const port = opts.port ?? (await freePort());
  const proc = spawnTied(process.execPath, [...(opts.nodeArgs ?? []), serviceEntry(name)], {
    env: { ...process.env, HOST: "127.0.0.1", PORT: String(port), ...opts.env },
  });
  let out = "";
  let partial = "";
  const onData = (chunk: Buffer) => {
    const text = chunk.toString();
    if (out.length < 2_000_000) out += text;
    if (opts.onLine !== undefined) {
      partial += text;
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) if (line !== "") opts.onLine(line);
    }
  };
  proc.stdout.on("data", onData);
  proc.stderr.on("data", onData);
  const exited = new Promise<number | null>((res) => proc.once("exit", (code) => res(code)));
  const wait = (signal: NodeJS.Signals) => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    return exited;
  };
  return {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    process: proc,
    output: () => out,
    stop: () => wait("SIGTERM"),
    kill: async () => {
      await wait("SIGKILL");
    },
    exited,
  };
}

/**
 * Polls GET /readyz until 200, or fails with the service's output when it exits or the deadline passes. The deadline is
 * generous on purpose: on a loaded 2-core machine a service can take well over 15 s to boot, and the poll ends as soon
 * as the service is ready, so a quiet machine pays nothing for it.
 */
export async function waitReady(svc: ServiceHandle, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (svc.process.exitCode !== null || svc.process.signalCode !== null)
      throw new Error(`${svc.name} exited before it was ready:\n${svc.output().slice(-3000)}`);
    try {
      const res = await fetch(`${svc.url}/readyz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${svc.name} was not ready within ${timeoutMs} ms:\n${svc.output().slice(-3000)}`);
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
