/**
 * history benchmark (issue 7, docs/HTTP-API.md). Starts its own nats-server (temporary store), auth (for the key) and one
 * history process on 127.0.0.1, seeds 10,000 messages in one room among other rooms' traffic (40,000 messages in
 * all, straight into JetStream), then:
 *   1. compares the two ways to read a page of 100 of that room from JetStream, in this process:
 *      direct get (`next_by_subj`, one request per message) vs an ephemeral filtered consumer (one fetch);
 *   2. drives `GET /v1/rooms/big/messages?limit=100` at a fixed, open-loop rate (default 200/s for 10 s), mixing
 *      newest-first pages, deep backwards pages (cursor), and forwards pages from random offsets, and prints
 *      p50/p99/max latency measured from each request's scheduled time.                target p99 ≤ 20 ms
 *      Before the run the room is read until history serves it from its read cache (services/history/src/cache.ts),
 *      and the run ends with history's cache counters (pages from memory vs read from JetStream).
 * Options (env): BENCH_RATE (default 200), BENCH_RATE_SECONDS (default 10), BENCH_COMPARE_ROUNDS (default 100),
 * BENCH_HISTORY_CACHE_BYTES (history's SWITCHBOARD_HISTORY_CACHE_BYTES; 0 reads every page from JetStream).
 * The rate phase also prints the CPU per page of history, nats-server and the bench process itself.
 */
import { Agent, request } from "node:http";
import { ephemeralEnv, startNatsServer, startService, waitReady, type ServiceHandle } from "@switchboard/dev";
import {
  STREAM_ROOMS,
  Subjects,
  addEphemeralConsumer,
  connectNats,
  createLogger,
  deleteEphemeralConsumer,
  encodeBody,
  jetstream,
  jetstreamManager,
} from "@switchboard/core";
import { readFileSync } from "node:fs";
import { cpuSeconds } from "./lib.js";

const RATE = Number(process.env["BENCH_RATE"] ?? 200);
const RATE_SECONDS = Math.min(60, Number(process.env["BENCH_RATE_SECONDS"] ?? 10));
const ROUNDS = Math.min(1000, Number(process.env["BENCH_COMPARE_ROUNDS"] ?? 100));
const ROOM_MESSAGES = 10_000;
/** Every 4th seeded message goes to the benchmarked room. */
const TOTAL_MESSAGES = ROOM_MESSAGES * 4;
const PAGE = 100;

/** System (kernel) CPU seconds of a process, from /proc/<pid>/stat (cpuSeconds in lib.ts is user + system). */
function systemSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[12]) / 100;
  } catch {
    return NaN;
  }
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}
const fmt = (ms: number) => ms.toFixed(2);

function get(port: number, agent: Agent, auth: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent, headers: { authorization: auth } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

async function main(): Promise<void> {
  const nats = await startNatsServer();
  const { env, devKey } = ephemeralEnv(nats.url, "bench");
  const services: ServiceHandle[] = [];
  const nc = await connectNats(
    { servers: [nats.url], name: "history-bench", log: createLogger("bench", "silent") },
    new AbortController().signal,
  );
  try {
    for (const name of ["auth", "history"] as const) {
      const cacheBytes = process.env["BENCH_HISTORY_CACHE_BYTES"];
      const svc = await startService(name, {
        env: cacheBytes === undefined ? env : { ...env, SWITCHBOARD_HISTORY_CACHE_BYTES: cacheBytes },
        onLine: (line) => {
          if (process.env["BENCH_SERVICE_LOGS"] === "1") console.log(`[${name}] ${line.slice(0, 600)}`);
        },
      });
      services.push(svc);
      await waitReady(svc);
    }
    const history = services[1]!;
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);

    // Seed: every 4th message goes to the benchmarked room, the rest to 50 other rooms.
    const t0 = performance.now();
    const bigSubject = Subjects.room("bench", "big");
    let pending: Array<Promise<unknown>> = [];
    for (let i = 0; i < TOTAL_MESSAGES; i++) {
      const subject = i % 4 === 0 ? bigSubject : Subjects.room("bench", `other:${i % 50}`);
      const body = encodeBody({
        event: "chat",
        dataJson: JSON.stringify({ text: `message ${i}`, n: i }),
        timestamp: Date.now(),
        clientId: "seed",
      });
      pending.push(js.publish(subject, body));
      if (pending.length >= 500) {
        await Promise.all(pending);
        pending = [];
      }
    }
    await Promise.all(pending);
    const info = await jsm.streams.info(STREAM_ROOMS, { subjects_filter: bigSubject });
    const first = (await jsm.direct.getMessage(STREAM_ROOMS, { seq: 1, next_by_subj: bigSubject }))!.seq;
    const last = info.state.last_seq;
    console.log(
      `seeded ${TOTAL_MESSAGES} messages (${info.state.subjects?.[bigSubject] ?? 0} in the room) in ${fmt(performance.now() - t0)} ms`,
    );

    // 1. Direct get chain vs filtered consumer, for a page of 100 from a random point of the room.
    const startAt = () => first + Math.floor(Math.random() * (last - first - PAGE * 8));
    const direct: number[] = [];
    const consumer: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      let a = performance.now();
      let seq = startAt();
      for (let i = 0; i < PAGE; i++) {
        const m = await jsm.direct.getMessage(STREAM_ROOMS, { seq, next_by_subj: bigSubject });
        if (m === null) break;
        seq = m.seq + 1;
      }
      direct.push(performance.now() - a);

      a = performance.now();
      const ci = await addEphemeralConsumer(jsm, STREAM_ROOMS, bigSubject, { seq: startAt() });
      const iter = await js.consumers.getConsumerFromInfo(ci).fetch({ max_messages: PAGE, expires: 2000 });
      let got = 0;
      for await (const _m of iter) if (++got >= PAGE) break;
      consumer.push(performance.now() - a);
      void deleteEphemeralConsumer(jsm, STREAM_ROOMS, ci.name);
    }
    for (const [label, xs] of [
      ["direct get x100 (next_by_subj)", direct],
      ["filtered consumer, one fetch ", consumer],
    ] as const) {
      const s = [...xs].sort((x, y) => x - y);
      console.log(`page of ${PAGE}: ${label}  p50 ${fmt(pct(s, 50))} ms  p99 ${fmt(pct(s, 99))} ms  (${ROUNDS} rounds)`);
    }

    // 2. HTTP pages at a fixed rate through the history service.
    const agent = new Agent({ keepAlive: true, maxSockets: 64 });
    const auth = `Bearer ${devKey}`;
    const path = "/v1/rooms/big/messages";
    const warm = await get(history.port, agent, auth, `${path}?limit=${PAGE}`);
    if (warm.status !== 200) throw new Error(`history answered ${warm.status}: ${warm.body}`);
    const cacheReads = async (): Promise<Map<string, number>> => {
      const text = (await get(history.port, agent, auth, "/metrics")).body;
      const out = new Map<string, number>();
      for (const line of text.split("\n")) {
        const m = /^switchboard_history_cache_reads_total\{.*result="(\w+)".*\} (\d+)/.exec(line);
        if (m !== null) out.set(m[1]!, Number(m[2]));
      }
      return out;
    };
    if (process.env["BENCH_HISTORY_CACHE_BYTES"] !== "0") {
      const w0 = performance.now();
      while (((await cacheReads()).get("hit") ?? 0) === 0) {
        if (performance.now() - w0 > 30_000) throw new Error("history never served the room from its cache");
        await get(history.port, agent, auth, `${path}?limit=${PAGE}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      console.log(`room served from history's cache ${fmt(performance.now() - w0)} ms after its first read`);
    }
    const cursors: string[] = [];
    let c: string | null = (JSON.parse(warm.body) as { next: string | null }).next;
    for (let i = 0; i < 20 && c !== null; i++) {
      cursors.push(c);
      const r = await get(history.port, agent, auth, `${path}?limit=${PAGE}&next=${c}`);
      c = (JSON.parse(r.body) as { next: string | null }).next;
    }
    const total = RATE * RATE_SECONDS;
    const latencies: number[] = [];
    const byKind: Record<string, number[]> = { newest: [], deep: [], forwards: [] };
    const kinds = { newest: 0, deep: 0, forwards: 0 };
    let errors = 0;
    const errorKinds = new Map<string, number>();
    const fail = (what: string) => {
      errors++;
      errorKinds.set(what, (errorKinds.get(what) ?? 0) + 1);
    };
    let sizes = 0;
    const pids = { history: history.process.pid, "nats-server": nats.process.pid, bench: process.pid };
    const cpuBefore = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, [cpuSeconds(pid), systemSeconds(pid)] as const]));
    const begin = performance.now() + 50;
    await Promise.all(
      Array.from({ length: total }, async (_, i) => {
        const at = begin + (i * 1000) / RATE;
        const wait = at - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const kind = i % 3 === 0 ? "newest" : i % 3 === 1 ? "deep" : "forwards";
        kinds[kind]++;
        const q =
          kind === "newest"
            ? `?limit=${PAGE}`
            : kind === "deep"
              ? `?limit=${PAGE}&next=${cursors[i % cursors.length]!}`
              : `?limit=${PAGE}&direction=forwards&after=${startAt()}`;
        try {
          const r = await get(history.port, agent, auth, path + q);
          if (r.status !== 200) fail(`${r.status} ${r.body.slice(0, 120)}`);
          else sizes += (JSON.parse(r.body) as { messages: unknown[] }).messages.length;
        } catch (err) {
          fail((err as Error).message);
        }
        latencies.push(performance.now() - at);
        byKind[kind]!.push(performance.now() - at);
      }),
    );
    const cpuPerPage = Object.entries(pids)
      .map(([k, pid]) => {
        const [cpu0, sys0] = cpuBefore[k] ?? [NaN, NaN];
        const us = (now: number, then: number) => (((now - then) * 1e6) / total).toFixed(0);
        return `${k} ${us(cpuSeconds(pid), cpu0)} µs (system ${us(systemSeconds(pid), sys0)})`;
      })
      .join(", ");
    const s = latencies.sort((x, y) => x - y);
    console.log(
      `HTTP GET page of ${PAGE} at ${RATE}/s for ${RATE_SECONDS} s (${kinds.newest} newest, ${kinds.deep} deep backwards, ${kinds.forwards} forwards): ` +
        `p50 ${fmt(pct(s, 50))} ms  p99 ${fmt(pct(s, 99))} ms  max ${fmt(s[s.length - 1]!)} ms  errors ${errors}  mean page ${(sizes / Math.max(1, total - errors)).toFixed(1)}`,
    );
    for (const [kind, xs] of Object.entries(byKind)) {
      const k = xs.sort((x, y) => x - y);
      console.log(`  ${kind}: p50 ${fmt(pct(k, 50))} ms  p99 ${fmt(pct(k, 99))} ms`);
    }
    for (const [what, n] of errorKinds) console.log(`  ${n} x ${what}`);
    console.log(`  CPU per page during the rate phase (user+system, /proc/<pid>/stat): ${cpuPerPage}`);
    console.log(`  history cache reads (whole bench): ${[...(await cacheReads())].map(([k, v]) => `${k} ${v}`).join(", ") || "none"}`);
    agent.destroy();
  } finally {
    await nc.close();
    // With BENCH_PROFILE, a graceful stop lets a profiler loaded through NODE_OPTIONS write its profile.
    await Promise.all(services.map((s) => (process.env["BENCH_PROFILE"] !== undefined ? s.stop() : s.kill())));
    await nats.dispose();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
