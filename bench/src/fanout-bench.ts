/**
 * Gateway fan-out benchmark. Starts its own nats-server and auth, publish-ingest and fanout-gateway processes on
 * 127.0.0.1, opens N sockets on the gateway in one room, stores messages straight into JetStream (as ingest does),
 * and measures delivered messages per second and publish→socket latency (p50/p99, from the stored timestamp to the
 * frame's arrival at a client). The same run repeats the fan-out against a bare uWebSockets.js server in a child
 * process (core NATS subscription on the live subject → one uWS topic publish, no protocol) as the baseline.
 *
 *   node bench/dist/fanout-bench.js [--sockets 200] [--burst 2000] [--paced 1000] [--rate 250] [--tracing]
 *
 * --tracing: every message carries a W3C traceparent (as ingest stores it with tracing on), and the gateway phases
 * run twice in the same run, on a gateway with tracing off and on one exporting a fan-out span per message to a
 * stand-in OTLP collector (the tracing cost). The "cpu µs" column is the server process's CPU per published message.
 *
 * Phases per server: "burst" publishes as fast as JetStream acks (throughput), "paced" at --rate msgs/s (latency).
 * Clients and publisher share this process, so on a small machine the clients are part of what is measured; the
 * baseline has the same handicap, which is why it runs in the same run.
 */
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { signToken } from "@switchboard/protocol";
import {
  STREAM_ROOMS,
  Subjects,
  connectNats,
  createAckPublisher,
  createLogger,
  encodeBody,
  jetstream,
  messagePushFrame,
  type NatsConnection,
} from "@switchboard/core";
import { cpuSeconds, loadBareUws, startOtlpSink } from "./lib.js";
import { ephemeralEnv, spawnTied, startNatsServer, startService, waitReady, type ServiceHandle } from "@switchboard/dev";

const APP = "bench";
const ROOM = "fanout";
/** Messages sent before each server's measured phases, so both are measured with warm JIT on both sides. */
const WARMUP = 300;

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i < 0 ? undefined : Number(process.argv[i + 1]);
  return v !== undefined && Number.isFinite(v) && v > 0 ? v : def;
}

const TRACING = process.argv.includes("--tracing");

// ---- the bare uWS baseline server (runs as a child process: `fanout-bench.js --bare <natsUrl>`) ----

async function runBare(natsUrl: string): Promise<void> {
  const uws = loadBareUws();
  const app = uws.App();
  app.ws("/*", {
    compression: uws.DISABLED,
    maxPayloadLength: 64 * 1024,
    maxBackpressure: 64 * 1024 * 1024,
    open: (ws: { subscribe(topic: string): void }) => ws.subscribe(ROOM),
  });
  const nc = await connectNats({ servers: [natsUrl], name: "bare-uws", log: createLogger("bare", "silent") }, new AbortController().signal);
  const roomJson = JSON.stringify(ROOM);
  nc.subscribe(Subjects.live(APP, ROOM), {
    callback: (_err, msg) => {
      const seq = Number(msg.headers?.get("Nats-Sequence"));
      app.publish(ROOM, messagePushFrame(roomJson, seq, msg.string()));
    },
  });
  await nc.flush();
  app.listen("127.0.0.1", 0, (socket) => {
    process.stdout.write(`port ${uws.us_socket_local_port(socket)}\n`);
  });
}

// ---- clients and measurement ----

interface Phase {
  name: string;
  deliveries: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  /** The server process's CPU per published message, µs. */
  cpuUs: number;
}

class Clients {
  private count = 0;
  private target = 0;
  private done: (() => void) | undefined;
  latencies: number[] = [];
  readonly sockets: WebSocket[] = [];

  async open(urls: string[], onOpen: (ws: WebSocket) => Promise<void>): Promise<void> {
    await Promise.all(
      urls.map(async (url, i) => {
        const ws = new WebSocket(url, { perMessageDeflate: false });
        this.sockets.push(ws);
        const sample = i % 10 === 0;
        await onOpen(ws);
        ws.on("message", (data: Buffer) => {
          const text = data.toString();
          if (!text.startsWith('{"type":"message"')) return;
          if (sample) {
            const at = text.lastIndexOf('"timestamp":');
            this.latencies.push(Date.now() - parseInt(text.slice(at + 12, at + 30), 10));
          }
          if (++this.count === this.target) this.done?.();
        });
      }),
    );
  }

  expect(total: number, timeoutMs: number): Promise<void> {
    this.count = 0;
    this.latencies = [];
    this.target = total;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${this.count} of ${total} deliveries within ${timeoutMs} ms`)), timeoutMs);
      this.done = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  close(): void {
    for (const ws of this.sockets) ws.terminate();
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** With --tracing, messages go out with a traceparent header through core's publisher. */
let traced: ReturnType<typeof createAckPublisher> | undefined;

async function publishAll(nc: NatsConnection, count: number, ratePerS: number | undefined): Promise<void> {
  const js = jetstream(nc);
  traced ??= TRACING ? createAckPublisher(nc, { timeoutMs: 10_000, stream: STREAM_ROOMS }) : undefined;
  const data = JSON.stringify({ text: "x".repeat(100) });
  const inflight = new Set<Promise<unknown>>();
  const start = Date.now();
  for (let i = 0; i < count; i++) {
    if (ratePerS !== undefined) {
      const due = start + (i * 1000) / ratePerS;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const subject = Subjects.room(APP, ROOM);
    const body = encodeBody({ event: "tick", dataJson: data, timestamp: Date.now() });
    const p =
      traced === undefined
        ? js.publish(subject, body)
        : traced.publish(subject, body, { traceparent: `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01` });
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
    if (inflight.size >= 128) await Promise.race(inflight);
  }
  await Promise.all(inflight);
}

async function phase(
  name: string,
  clients: Clients,
  nc: NatsConnection,
  sockets: number,
  count: number,
  rate: number | undefined,
  pid: number | undefined,
): Promise<Phase> {
  const arrived = clients.expect(sockets * count, 60_000);
  const cpuBefore = cpuSeconds(pid);
  const start = performance.now();
  await publishAll(nc, count, rate);
  await arrived;
  const seconds = (performance.now() - start) / 1000;
  const cpuUs = ((cpuSeconds(pid) - cpuBefore) * 1e6) / count;
  const sorted = clients.latencies.sort((a, b) => a - b);
  return {
    name,
    deliveries: sockets * count,
    seconds,
    perSecond: (sockets * count) / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    cpuUs,
  };
}

async function main(): Promise<void> {
  const sockets = arg("sockets", 200);
  const burst = arg("burst", 2000);
  const paced = arg("paced", 1000);
  const rate = arg("rate", 250);
  const nats = await startNatsServer();
  const { env, devKey } = ephemeralEnv(nats.url, APP);
  const services: ServiceHandle[] = [];
  let bare: ReturnType<typeof spawnTied> | undefined;
  const nc = await connectNats({ servers: [nats.url], name: "bench", log: createLogger("bench", "silent") }, new AbortController().signal);
  const results: Array<{ server: string } & Phase> = [];
  let spansExported: number | undefined;
  try {
    for (const name of ["auth", "publish-ingest"] as const) services.push(await startService(name, { env }));
    await Promise.all(services.map((s) => waitReady(s)));
    const sink = TRACING ? await startOtlpSink() : undefined;
    const gateways: Array<[string, Record<string, string>]> = [["gateway", env]];
    if (sink !== undefined) gateways.push(["gw+otel", { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: sink.url }]);
    for (const [server, gatewayEnv] of gateways) {
      const gateway = await startService("fanout-gateway", { env: gatewayEnv });
      services.push(gateway);
      await waitReady(gateway);
      const pid = gateway.process.pid;

      // Gateway: N sockets subscribed to the room through the protocol.
      const [appKey, secret] = devKey.split(/:(.*)/s) as [string, string];
      const now = Math.floor(Date.now() / 1000);
      const token = await signToken(
        { aud: "switchboard", iat: now, exp: now + 3600, jti: "bench", permissions: { "*": ["*"] } },
        { appId: APP, keyId: appKey.split(".")[1]!, secret },
      );
      const gw = new Clients();
      await gw.open(
        Array.from({ length: sockets }, () => `ws://127.0.0.1:${gateway.port}/v1/ws?token=${encodeURIComponent(token)}`),
        (ws) =>
          new Promise<void>((resolve, reject) => {
            ws.once("error", reject);
            ws.on("message", function onReply(data: Buffer) {
              const f = JSON.parse(data.toString()) as { type: string; id?: number; ok?: boolean };
              if (f.type === "connected") ws.send(JSON.stringify({ type: "subscribe", id: 1, room: ROOM }));
              if (f.type === "reply" && f.id === 1) {
                ws.off("message", onReply);
                if (f.ok === true) resolve();
                else reject(new Error(`subscribe refused: ${data.toString()}`));
              }
            });
          }),
      );
      await phase("warmup", gw, nc, sockets, WARMUP, undefined, pid);
      results.push({ server, ...(await phase("burst", gw, nc, sockets, burst, undefined, pid)) });
      results.push({ server, ...(await phase("paced", gw, nc, sockets, paced, rate, pid)) });
      gw.close();
      await gateway.kill();
    }
    if (sink !== undefined) {
      spansExported = sink.spans();
      sink.close();
    }

    // Bare uWS: the same sockets and messages, the live subject straight onto one topic.
    const bareProc = spawnTied(process.execPath, [fileURLToPath(import.meta.url), "--bare", nats.url]);
    bare = bareProc;
    bareProc.stderr.pipe(process.stderr);
    const port = await new Promise<number>((resolve, reject) => {
      bareProc.stdout.on("data", (d: Buffer) => {
        const m = /port (\d+)/.exec(d.toString());
        if (m) resolve(Number(m[1]));
      });
      bareProc.once("exit", (code) => reject(new Error(`bare server exited with ${code}`)));
    });
    const base = new Clients();
    await base.open(
      Array.from({ length: sockets }, () => `ws://127.0.0.1:${port}/`),
      (ws) =>
        new Promise((resolve, reject) => {
          ws.once("open", () => resolve());
          ws.once("error", reject);
        }),
    );
    await phase("warmup", base, nc, sockets, WARMUP, undefined, bare.pid);
    results.push({ server: "bare uWS", ...(await phase("burst", base, nc, sockets, burst, undefined, bare.pid)) });
    results.push({ server: "bare uWS", ...(await phase("paced", base, nc, sockets, paced, rate, bare.pid)) });
    base.close();
  } finally {
    bare?.kill("SIGKILL");
    await nc.close();
    await Promise.all(services.map((s) => s.kill()));
    await nats.dispose();
  }
  console.log(`fan-out: ${sockets} sockets in one room; burst ${burst} msgs as fast as JetStream acks; paced ${paced} msgs at ${rate}/s`);
  console.log("server    phase  deliveries  seconds  delivered/s  p50 ms  p99 ms  cpu µs/msg");
  for (const r of results)
    console.log(
      `${r.server.padEnd(9)} ${r.name.padEnd(6)} ${String(r.deliveries).padStart(10)}  ${r.seconds.toFixed(2).padStart(7)}  ${Math.round(r.perSecond).toString().padStart(11)}  ${String(r.p50).padStart(6)}  ${String(r.p99).padStart(6)}  ${r.cpuUs.toFixed(0).padStart(10)}`,
    );
  if (spansExported !== undefined) console.log(`stand-in collector received ${spansExported} spans`);
}

if (process.argv[2] === "--bare") {
  void runBare(process.argv[3] ?? "nats://127.0.0.1:4222");
} else {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
