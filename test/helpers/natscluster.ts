/**
 * A 3-node nats-server JetStream cluster for the fault tests (test/faults/). Where the kernel lets us (root, `ip
 * netns`), each node runs in its own network namespace on a veth joined to a bridge in the test's namespace, so a
 * partition is real: `partition()` takes the node's link down, and the node, its routes and the clients connected to
 * it stop hearing each other while every process keeps running. Elsewhere the nodes listen on loopback and a
 * partition is a SIGSTOP (the node and its connections go silent the same way, but its own timers stop too).
 * Names carry the test process's pid; a run that died without cleaning up is cleaned by the next one.
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findNatsServer, freePort, spawnTied } from "@switchboard/dev";

export interface NatsNode {
  name: string;
  /** Client URL (nats://host:port). */
  url: string;
  /** Monitoring base URL (http://host:port). */
  monitor: string;
  storeDir: string;
  running(): boolean;
  /** Whether `partition()` cut it off and `heal()` has not yet restored it. */
  partitioned(): boolean;
  start(): Promise<void>;
  /** SIGKILL (a crash); the store stays for `start()`. */
  kill(): Promise<void>;
  /** Cuts the node off from every other node and client (link down, or SIGSTOP on loopback). */
  partition(): void;
  heal(): void;
  /** The node's own view of a stream (its replica's state), or undefined when it holds none or does not answer. */
  streamState(stream: string): Promise<StreamState | undefined>;
}

export interface StreamState {
  messages: number;
  last_seq: number;
  /** The stream's leader as this node sees it ("" when it knows none). */
  leader: string;
}

export interface NatsCluster {
  nodes: NatsNode[];
  /** Whether nodes run in network namespaces (else loopback with SIGSTOP partitions). */
  namespaces: boolean;
  /** Every node's client URL, comma-separated (the services' NATS_URL). */
  urls(nodes?: NatsNode[]): string;
  node(name: string): NatsNode;
  /**
   * The rooms stream's leader as the reachable nodes see it (their monitoring endpoints: a client of the test could
   * itself be connected to a node that was just cut off); undefined while they know none.
   */
  streamLeader(stream: string): Promise<NatsNode | undefined>;
  close(): Promise<void>;
}

const PREFIX = "sbf";

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes namespaces and bridges left by fault runs whose process is gone. */
function cleanStale(): void {
  let names: string[];
  try {
    names = execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
      .split("\n")
      .map((l) => l.split(" ")[0] ?? "");
  } catch {
    return;
  }
  for (const n of names) {
    const m = new RegExp(`^${PREFIX}(\\d+)n\\d$`).exec(n);
    if (m !== null && !alive(Number(m[1]))) ip("netns", "del", n);
  }
  const links = execFileSync("ip", ["-o", "link", "show", "type", "bridge"], { encoding: "utf8" });
  for (const m of links.matchAll(new RegExp(`\\d+: (${PREFIX}(\\d+)br)[:@]`, "g"))) {
    if (!alive(Number(m[2]))) ip("link", "del", m[1] ?? "");
  }
}

/** Builds the bridge and one namespace per node; returns false (and leaves nothing) when the kernel refuses. */
function buildNetwork(tag: string, subnet: string, size: number): boolean {
  try {
    cleanStale();
    ip("link", "add", `${tag}br`, "type", "bridge");
    ip("addr", "add", `${subnet}.1/24`, "dev", `${tag}br`);
    ip("link", "set", `${tag}br`, "up");
    for (let i = 1; i <= size; i++) {
      const ns = `${tag}n${i}`;
      ip("netns", "add", ns);
      ip("link", "add", `${tag}v${i}`, "type", "veth", "peer", "name", "eth0", "netns", ns);
      ip("link", "set", `${tag}v${i}`, "master", `${tag}br`, "up");
      ip("-n", ns, "addr", "add", `${subnet}.${10 + i}/24`, "dev", "eth0");
      ip("-n", ns, "link", "set", "eth0", "up");
      ip("-n", ns, "link", "set", "lo", "up");
    }
    return true;
  } catch {
    removeNetwork(tag, size);
    return false;
  }
}

function removeNetwork(tag: string, size: number): void {
  for (let i = 1; i <= size; i++) {
    try {
      ip("netns", "del", `${tag}n${i}`);
    } catch {
      // not created
    }
  }
  try {
    ip("link", "del", `${tag}br`);
  } catch {
    // not created
  }
}

export interface NatsClusterOptions {
  /** Force loopback (no namespaces); default: the FAULTS_LOOPBACK environment variable is "1". */
  loopback?: boolean;
  /** Extra `jetstream {}` settings for every node, e.g. `max_file_store: 1MB`. */
  jetstream?: string;
}

export async function startNatsCluster(opts: NatsClusterOptions = {}): Promise<NatsCluster> {
  const size = 3;
  const bin = findNatsServer();
  const tag = `${PREFIX}${process.pid}`;
  const subnet = `10.213.${process.pid % 250}`;
  // FAULTS_LOOPBACK=1 runs the loopback variant where namespaces would work (to check it).
  const loopback = opts.loopback ?? process.env["FAULTS_LOOPBACK"] === "1";
  const namespaces = !loopback && process.getuid?.() === 0 && buildNetwork(tag, subnet, size);
  const root = mkdtempSync(join(tmpdir(), "sb-natscluster-"));

  // Addresses: in namespaces every node has its own IP and the standard ports; on loopback, free ports.
  const addrs: Array<{ host: string; client: number; route: number; http: number }> = [];
  for (let i = 1; i <= size; i++) {
    if (namespaces) addrs.push({ host: `${subnet}.${10 + i}`, client: 4222, route: 6222, http: 8222 });
    else addrs.push({ host: "127.0.0.1", client: await freePort(), route: await freePort(), http: await freePort() });
  }

  const nodes: NatsNode[] = addrs.map((a, idx) => {
    const i = idx + 1;
    const name = `n${i}`;
    const storeDir = join(root, name);
    mkdirSync(storeDir, { recursive: true });
    const conf = join(root, `${name}.conf`);
    const routes = addrs.filter((_, j) => j !== idx).map((o) => `"nats-route://${o.host}:${o.route}"`);
    writeFileSync(
      conf,
      [
        `server_name: ${name}`,
        `listen: "${a.host}:${a.client}"`,
        `http: "${a.host}:${a.http}"`,
        // Dead routes and clients are noticed in seconds, not minutes.
        `ping_interval: "1s"`,
        `ping_max: 3`,
        `jetstream { store_dir: "${storeDir}"\n${opts.jetstream ?? ""} }`,
        `cluster { name: sbfaults, listen: "${a.host}:${a.route}", routes: [${routes.join(", ")}] }`,
      ].join("\n") + "\n",
    );
    let proc: ChildProcess | undefined;
    let stopped = false;
    let cut = false;
    const running = () => proc !== undefined && proc.exitCode === null && proc.signalCode === null;
    const node: NatsNode = {
      name,
      url: `nats://${a.host}:${a.client}`,
      monitor: `http://${a.host}:${a.http}`,
      storeDir,
      running,
      partitioned: () => cut,
      start: () =>
        new Promise<void>((resolve, reject) => {
          const args = ["-c", conf];
          const p = namespaces ? spawnTied("ip", ["netns", "exec", `${tag}n${i}`, bin, ...args]) : spawnTied(bin, args);
          proc = p;
          stopped = false;
          let seen = "";
          const timer = setTimeout(() => reject(new Error(`${name} was not ready in 30 s:\n${seen.slice(-2000)}`)), 30_000);
          const onData = (chunk: Buffer) => {
            if (seen.length < 50_000) seen += chunk.toString();
            if (seen.includes("Server is ready")) {
              clearTimeout(timer);
              resolve();
            }
          };
          p.stdout.on("data", onData);
          p.stderr.on("data", onData);
          p.once("exit", (code, signal) => {
            clearTimeout(timer);
            reject(new Error(`${name} exited (${code ?? signal}):\n${seen.slice(-2000)}`));
          });
        }),
      kill: () =>
        new Promise<void>((resolve) => {
          const p = proc;
          if (p === undefined || !running()) return resolve();
          if (stopped) p.kill("SIGCONT");
          p.once("exit", () => resolve());
          p.kill("SIGKILL");
        }),
      partition: () => {
        cut = true;
        if (namespaces) ip("link", "set", `${tag}v${i}`, "down");
        else {
          proc?.kill("SIGSTOP");
          stopped = true;
        }
      },
      heal: () => {
        cut = false;
        if (namespaces) ip("link", "set", `${tag}v${i}`, "up");
        else {
          proc?.kill("SIGCONT");
          stopped = false;
        }
      },
      streamState: async (stream) => {
        try {
          const res = await fetch(`${node.monitor}/jsz?accounts=true&streams=true`, { signal: AbortSignal.timeout(2000) });
          const jsz = (await res.json()) as {
            account_details?: Array<{
              stream_detail?: Array<{ name: string; state: { messages: number; last_seq: number }; cluster?: { leader?: string } }>;
            }>;
          };
          for (const acc of jsz.account_details ?? []) {
            const s = acc.stream_detail?.find((d) => d.name === stream);
            if (s !== undefined) return { messages: s.state.messages, last_seq: s.state.last_seq, leader: s.cluster?.leader ?? "" };
          }
          return undefined;
        } catch {
          return undefined;
        }
      },
    };
    return node;
  });

  const close = async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    if (namespaces) removeNetwork(tag, size);
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await Promise.all(nodes.map((n) => n.start()));
  } catch (err) {
    await close();
    throw err;
  }
  return {
    nodes,
    namespaces,
    urls: (of = nodes) => of.map((n) => n.url).join(","),
    node: (name) => {
      const n = nodes.find((x) => x.name === name);
      if (n === undefined) throw new Error(`no node ${name}`);
      return n;
    },
    streamLeader: async (stream) => {
      const reachable = nodes.filter((n) => n.running() && !n.partitioned());
      const views = await Promise.all(reachable.map((n) => n.streamState(stream)));
      const names = new Set(views.map((v) => v?.leader ?? ""));
      // Every reachable node agrees, on a node that is itself reachable.
      const [only] = names;
      if (names.size !== 1 || only === undefined) return undefined;
      return reachable.find((n) => n.name === only);
    },
    close,
  };
}
