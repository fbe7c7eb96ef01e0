/**
 * publish-ingest benchmark (issue 8, docs/HTTP-API.md). Starts its own nats-server (temporary store) plus auth (for the
 * key) and one publish-ingest process on 127.0.0.1, then measures, with a lean keep-alive HTTP client:
 *   1. single-message publishes/s (POST /v1/rooms/:room/messages, bounded concurrency)   target ≥ 8,000/s
 *   2. messages/s through the batch endpoint (POST /v1/messages, 1000 per batch)          target ≥ 30,000/s
 *   3. ack latency (p50/p99/max) at a fixed, open-loop 1,000 publishes/s                  target p99 ≤ 20 ms
 * Each phase is bounded in time and count. Options (env): BENCH_SECONDS (per throughput phase, default 8),
 * BENCH_CONCURRENCY (single, default 64), BENCH_BATCH_CONCURRENCY (default 4), BENCH_RATE_SECONDS (default 10),
 * BENCH_PHASES (comma list of single,batch,rate; default all), BENCH_PROFILE=<dir> (write a V8 CPU profile of the
 * ingest process there, for `node --cpu-prof` style analysis), BENCH_TRACING=1 (run the phases twice in the same run,
 * on an ingest with tracing off and then on one exporting every span to a stand-in OTLP collector: the tracing cost).
 */
import { Agent, request } from "node:http";
import { RawConn, cpuSeconds, rawPost, startOtlpSink } from "./lib.js";
import { ephemeralEnv, startNatsServer, startService, waitReady, type ServiceHandle } from "@switchboard/dev";

const SECONDS = Number(process.env["BENCH_SECONDS"] ?? 8);
const CONCURRENCY = Number(process.env["BENCH_CONCURRENCY"] ?? 64);
const BATCH_CONCURRENCY = Number(process.env["BENCH_BATCH_CONCURRENCY"] ?? 4);
const BATCH_SIZE = 1000;
const RATE = 1000;
const RATE_SECONDS = Number(process.env["BENCH_RATE_SECONDS"] ?? 10);
/** Hard bound on requests per phase, whatever the duration. */
const MAX_REQUESTS = 500_000;
const PHASES = new Set((process.env["BENCH_PHASES"] ?? "single,batch,rate").split(","));
const PROFILE_DIR = process.env["BENCH_PROFILE"];
const TRACING = process.env["BENCH_TRACING"] === "1";

interface Target {
  port: number;
  agent: Agent;
  auth: string;
}

/** One POST; resolves with the status once the whole response arrived. */
function post(t: Target, path: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: t.port,
        path,
        method: "POST",
        agent: t.agent,
        headers: { authorization: t.auth, "content-type": "application/json", "content-length": body.length },
      },
      (res) => {
        res.on("data", () => undefined);
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * Runs `concurrency` loops calling `once(requestIndex, loopIndex)` until `seconds` pass or MAX_REQUESTS are made;
 * returns counts and time.
 */
async function closedLoop(concurrency: number, seconds: number, once: (i: number, loop: number) => Promise<number>) {
  const deadline = performance.now() + seconds * 1000;
  let issued = 0;
  let ok = 0;
  const statuses = new Map<number, number>();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, loop) => {
      while (performance.now() < deadline && issued < MAX_REQUESTS) {
        const status = await once(issued++, loop);
        if (status === 201) ok++;
        else statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  return { ok, other: Object.fromEntries(statuses), elapsed: (performance.now() - started) / 1000 };
}

/** CPU each process spent per message during `run`: the figure that does not depend on how busy the machine is. */
async function withCpu<T>(
  pids: Record<string, number | undefined>,
  run: () => Promise<T>,
  messages: (r: T) => number,
): Promise<[T, string]> {
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
  const clientBefore = process.cpuUsage();
  const r = await run();
  const n = messages(r);
  const c = process.cpuUsage(clientBefore);
  const parts = Object.entries(pids).map(([k, pid]) => {
    const us = ((cpuSeconds(pid) - (before[k] ?? NaN)) * 1e6) / n;
    return `${k} ${us.toFixed(1)} µs/msg (≈ ${Math.round(1e6 / us)} msg/s per core)`;
  });
  parts.push(`bench client ${((c.user + c.system) / n).toFixed(1)} µs/msg`);
  return [r, `  cpu: ${parts.join(", ")}`];
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function main(): Promise<void> {
  const nats = await startNatsServer();
  const fresh = ephemeralEnv(nats.url, "bench");
  const devKey = fresh.devKey;
  const env = {
    ...fresh.env,
    // High enough never to refuse, so the limiter's cost is still measured.
    SWITCHBOARD_INGEST_RATE: "10000000",
    SWITCHBOARD_INGEST_BURST: "10000000",
  };
  const services: ServiceHandle[] = [];
  try {
    const auth = await startService("auth", { env });
    services.push(auth);
    await waitReady(auth);
    const sink = TRACING ? await startOtlpSink() : undefined;
    const variants: Array<[string, Record<string, string>]> =
      sink === undefined
        ? [["", env]]
        : [
            ["tracing off: ", env],
            ["tracing on:  ", { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: sink.url }],
          ];
    for (const [label, variantEnv] of variants) {
      const ingest = await startService("publish-ingest", {
        env:
          PROFILE_DIR === undefined
            ? variantEnv
            : {
                ...variantEnv,
                BENCH_PROFILE: PROFILE_DIR,
                NODE_OPTIONS: `--import=${new URL("./ingest-profile.js", import.meta.url).href}`,
              },
      });
      services.push(ingest);
      await waitReady(ingest);
      await measure(label, ingest, nats.process.pid, devKey);
      await ingest.stop();
    }
    if (sink !== undefined) {
      console.log(`stand-in collector received ${sink.spans()} spans`);
      sink.close();
    }
  } finally {
    await Promise.all(services.map((svc) => svc.stop()));
    await nats.dispose();
  }
}

/** The phases against one ingest process; `label` prefixes every line. */
async function measure(label: string, ingest: ServiceHandle, natsPid: number | undefined, devKey: string): Promise<void> {
  const t: Target = { port: ingest.port, agent: new Agent({ keepAlive: true, maxSockets: 256 }), auth: `Bearer ${devKey}` };

  const rooms = Array.from({ length: 16 }, (_, i) => `/v1/rooms/bench:r${i}/messages`);
  const single = Buffer.from(JSON.stringify({ event: "tick", data: { text: "hello world", n: 42 } }));
  const batchBody = Buffer.from(
    JSON.stringify({
      messages: Array.from({ length: BATCH_SIZE }, (_, i) => ({
        room: `bench:b${i % 16}`,
        event: "tick",
        data: { text: "hello world", n: i },
      })),
    }),
  );

  // Throughput phases use the lean raw keep-alive client (one connection per loop), so the client's own CPU stays
  // small next to the ingest process on a 2-core machine; the latency phase uses node:http.
  const singleRequests = rooms.map((path) => rawPost(ingest.port, path, t.auth, single));
  const batchRequest = rawPost(ingest.port, "/v1/messages", t.auth, batchBody);
  const conns = await Promise.all(Array.from({ length: Math.max(CONCURRENCY, BATCH_CONCURRENCY) }, () => RawConn.open(ingest.port)));
  const onConn = (i: number) => conns[i % conns.length] as RawConn;

  // Warm-up: JIT, key cache, connections.
  await closedLoop(CONCURRENCY, 2, (i, loop) => onConn(loop).send(singleRequests[i % singleRequests.length] as Buffer));

  const pids = { ingest: ingest.process.pid, "nats-server": natsPid };
  if (PHASES.has("single")) {
    const [s, cpu] = await withCpu(
      pids,
      () => closedLoop(CONCURRENCY, SECONDS, (i, loop) => onConn(loop).send(singleRequests[i % singleRequests.length] as Buffer)),
      (r) => r.ok,
    );
    console.log(
      `${label}single: ${Math.round(s.ok / s.elapsed)} publishes/s (${s.ok} in ${s.elapsed.toFixed(1)} s, concurrency ${CONCURRENCY}, non-201 ${JSON.stringify(s.other)})`,
    );
    console.log(cpu);
  }
  if (PHASES.has("batch")) {
    const [b, cpu] = await withCpu(
      pids,
      () => closedLoop(BATCH_CONCURRENCY, SECONDS, (_i, loop) => onConn(loop).send(batchRequest)),
      (r) => r.ok * BATCH_SIZE,
    );
    console.log(
      `${label}batch: ${Math.round((b.ok * BATCH_SIZE) / b.elapsed)} messages/s (${b.ok} batches of ${BATCH_SIZE} in ${b.elapsed.toFixed(1)} s, concurrency ${BATCH_CONCURRENCY}, non-201 ${JSON.stringify(b.other)})`,
    );
    console.log(cpu);
  }
  for (const c of conns) c.close();
  if (PHASES.has("rate")) await rateLatency(label, t, rooms, single);
  t.agent.destroy();
}

async function rateLatency(label: string, t: Target, rooms: string[], single: Buffer): Promise<void> {
  // Open loop: a publish every 1 ms regardless of answers, each timed from its scheduled start.
  const total = RATE * RATE_SECONDS;
  const latencies: number[] = [];
  let failures = 0;
  const start = performance.now();
  const inflight: Array<Promise<void>> = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      post(t, rooms[i % rooms.length] as string, single).then(
        (status) => {
          if (status === 201) latencies.push(performance.now() - due);
          else failures++;
        },
        () => {
          failures++;
        },
      ),
    );
  }
  await Promise.all(inflight);
  const achieved = total / ((performance.now() - start) / 1000);
  latencies.sort((x, y) => x - y);
  console.log(
    `${label}ack latency at ${RATE}/s for ${RATE_SECONDS} s (achieved ${Math.round(achieved)}/s): p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms, max ${(latencies[latencies.length - 1] ?? NaN).toFixed(2)} ms, failures ${failures}`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
