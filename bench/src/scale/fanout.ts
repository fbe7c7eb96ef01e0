/**
 * Fan-out scenarios of the scale benchmark (bench/README.md): one room × 1000 subscribers (max rate and latency at a
 * fixed rate), many rooms (100 × 100 and 10,000 × 2: subscription set-up rate and what a room costs), and two
 * gateways sharing one room. Each runs the gateway and then the bare uWS baseline with the same load clients.
 */
import { cpuSeconds } from "../lib.js";
import { sumCounters, type LoadPool } from "./pool.js";
import { nth, type ExpectResult, type SubscribeResult } from "./protocol.js";
import { percentile, record, type Figures } from "./report.js";
import { pairedLatency } from "./latency.js";
import { publish, rssBytes, type Server, type Stack } from "./stack.js";

export interface Ctx {
  stack: Stack;
  pool: LoadPool;
  /** Starts the servers a phase runs on: one gateway (or bare), or `n` of them. */
  servers(kind: "gateway" | "bare" | "bare-hmac", n?: number): Promise<Server[]>;
  /** --profile was given: gateways run with --cpu-prof and --heapsnapshot-signal. */
  profiling: boolean;
}

const cpu = (pids: number[]): number => pids.reduce((a, p) => a + cpuSeconds(p), 0);

/** Opens `perServer` sockets on each server and subscribes each to `perSocket` of `rooms` rooms. */
async function openAndSubscribe(
  ctx: Ctx,
  servers: Server[],
  perServer: number,
  rooms: number,
  perSocket: number,
  prefix: string,
): Promise<{ sub: SubscribeResult[]; failed: number }> {
  let failed = 0;
  for (const s of servers) {
    const opened = await ctx.pool.open(s.port, perServer, [ctx.stack.path(s, ctx.stack.token({ jti: "fanout" }))]);
    failed += opened.reduce((a, r) => a + r.failed, 0);
  }
  const sub = await ctx.pool.subscribe(rooms, perSocket, prefix);
  failed += sub.reduce((a, r) => a + r.failed, 0);
  const first = sub.find((r) => r.firstError !== undefined)?.firstError;
  if (failed > 0) console.error(`${failed} sockets or subscribes failed; first error: ${first}`);
  return { sub, failed };
}

/** Publishes `count` messages to the rooms at max rate or `rate`, waits for every socket to get `perSocket` of them. */
async function deliver(
  ctx: Ctx,
  servers: Server[],
  o: { prefix: string; rooms: number; count: number; perSocket: number; rate?: number },
): Promise<Figures> {
  const pids = servers.map((s) => s.pid);
  const clientPids = ctx.pool.pids();
  await ctx.pool.reset();
  const arrived = ctx.pool.expect(o.perSocket, 120_000);
  const c0 = cpu(pids);
  const n0 = cpuSeconds(ctx.stack.nats.process.pid);
  const l0 = cpu(clientPids);
  const start = performance.timeOrigin + performance.now();
  await publish(ctx.stack.nc, { prefix: o.prefix, rooms: o.rooms, count: o.count, ...(o.rate !== undefined ? { ratePerS: o.rate } : {}) });
  const got: ExpectResult[] = await arrived;
  const end = Math.max(...got.map((g) => g.at));
  const seconds = (end - start) / 1000;
  const deliveries = got.reduce((a, g) => a + g.messages, 0);
  const counters = sumCounters(await ctx.pool.stats());
  const lat = got.flatMap((g) => g.latencies).sort((a, b) => a - b);
  const missing = got.reduce((a, g) => a + (g.target - g.messages), 0);
  const serverCpu = cpu(pids) - c0;
  return {
    subscribers: got.reduce((a, g) => a + g.target, 0) / o.perSocket,
    deliveries,
    "deliveries/s": deliveries / seconds,
    "deliveries per server cpu-s": deliveries / serverCpu,
    "p50 ms": percentile(lat, 50),
    "p99 ms": percentile(lat, 99),
    "server cpu µs/msg": (serverCpu * 1e6) / o.count,
    "nats cpu µs/msg": ((cpuSeconds(ctx.stack.nats.process.pid) - n0) * 1e6) / o.count,
    "client cpu s": cpu(clientPids) - l0,
    "frames/read": counters.frames / Math.max(1, counters.reads),
    missing,
    "closes/errors": [...Object.entries(counters.closes), ...Object.entries(counters.errors)].map(([k, v]) => `${k}:${v}`).join(" "),
  };
}

/**
 * Scenario 1: one room × `sockets` subscribers: max rate (deliveries/s), each server alone with the shared load
 * workers; then `rate` msg/s (p50/p99) with both servers side by side (latency.ts).
 */
export async function oneRoom(ctx: Ctx, o: { sockets: number; burst: number; rate: number; paced: number }): Promise<void> {
  for (const kind of ["gateway", "bare"] as const) {
    const servers = await ctx.servers(kind);
    const name = nth(servers, 0).name;
    await openAndSubscribe(ctx, servers, o.sockets, 1, 1, "one");
    await deliver(ctx, servers, { prefix: "one", rooms: 1, count: 200, perSocket: 200 });
    record(
      "1 one room",
      `max rate, ${o.sockets} subscribers`,
      name,
      await deliver(ctx, servers, { prefix: "one", rooms: 1, count: o.burst, perSocket: o.burst }),
    );
    await ctx.pool.closeAll();
    for (const s of servers) await s.stop();
  }
  await pairedLatency(ctx, { sockets: o.sockets, rate: o.rate, paced: o.paced, workers: Math.max(1, Math.floor(ctx.pool.size / 2)) });
}

/** Scenario 2: `rooms` rooms × `subs` subscribers on `sockets` sockets: set-up rate, memory per room, deliveries. */
export async function manyRooms(ctx: Ctx, o: { rooms: number; subs: number; sockets: number; perRoom: number }): Promise<void> {
  const perSocket = (o.rooms * o.subs) / o.sockets;
  const phase = `${o.rooms} rooms × ${o.subs} (${o.sockets} sockets × ${perSocket} rooms)`;
  const prefix = `m${o.rooms}-`;
  for (const kind of ["gateway", "bare"] as const) {
    const servers = await ctx.servers(kind);
    const s = nth(servers, 0);
    const opened = await ctx.pool.open(s.port, o.sockets, [ctx.stack.path(s, ctx.stack.token({ jti: "rooms" }))]);
    const openFailed = opened.reduce((a, r) => a + r.failed, 0);
    await new Promise((r) => setTimeout(r, 1000));
    const rss0 = rssBytes(s.pid);
    const nrss0 = rssBytes(ctx.stack.nats.process.pid);
    const c0 = cpuSeconds(s.pid);
    const n0 = cpuSeconds(ctx.stack.nats.process.pid);
    const sub = await ctx.pool.subscribe(o.rooms, perSocket, prefix);
    const seconds = (Math.max(...sub.map((r) => r.end)) - Math.min(...sub.map((r) => r.start))) / 1000;
    const failed = sub.reduce((a, r) => a + r.failed, 0) + openFailed;
    const setupCpu = cpuSeconds(s.pid) - c0;
    const natsCpu = cpuSeconds(ctx.stack.nats.process.pid) - n0;
    await new Promise((r) => setTimeout(r, 1000));
    const figures: Figures = {
      "set-up s": seconds,
      "rooms/s": o.rooms / seconds,
      "subscribes/s": (o.rooms * o.subs) / seconds,
      "server cpu µs/subscribe": (setupCpu * 1e6) / (o.rooms * o.subs),
      "nats cpu µs/subscribe": (natsCpu * 1e6) / (o.rooms * o.subs),
      "server KB/room": (rssBytes(s.pid) - rss0) / 1024 / o.rooms,
      "nats KB/room": (rssBytes(ctx.stack.nats.process.pid) - nrss0) / 1024 / o.rooms,
      failed,
    };
    if (failed > 0)
      console.error(`${failed} failed: ${sub.find((r) => r.firstError)?.firstError ?? opened.find((r) => r.firstError)?.firstError}`);
    const d = await deliver(ctx, servers, { prefix, rooms: o.rooms, count: o.rooms * o.perRoom, perSocket: perSocket * o.perRoom });
    record("2 many rooms", phase, s.name, { ...figures, ...d });
    await ctx.pool.closeAll();
    await s.stop();
  }
}

/** Scenario 5: one room × `sockets` on one server, then the same sockets split over two servers sharing the room. */
export async function twoGateways(ctx: Ctx, o: { sockets: number; burst: number }): Promise<void> {
  for (const kind of ["gateway", "bare"] as const) {
    for (const n of [1, 2]) {
      const servers = await ctx.servers(kind, n);
      await openAndSubscribe(ctx, servers, o.sockets / n, 1, 1, `two${n}`);
      await deliver(ctx, servers, { prefix: `two${n}`, rooms: 1, count: 200, perSocket: 200 });
      const d = await deliver(ctx, servers, { prefix: `two${n}`, rooms: 1, count: o.burst, perSocket: o.burst });
      record("5 two servers", `${n} server${n > 1 ? "s" : ""}, ${o.sockets} subscribers`, nth(servers, 0).name, d);
      await ctx.pool.closeAll();
      for (const s of servers) await s.stop();
    }
  }
}
