/**
 * Publish→receive latency of the gateway and the bare uWS baseline measured at the same time: both servers run
 * side by side, each with its own load workers and `sockets` subscribers of one room, and every message of the
 * paced phase reaches both (the bare server subscribes the same live subject). On a shared, noisy machine a
 * latency tail measured minutes apart mostly compares the neighbours' load; side by side, both see the same.
 */
import { cpuSeconds } from "../lib.js";
import type { Ctx } from "./fanout.js";
import { LoadPool, sumCounters } from "./pool.js";
import { nth } from "./protocol.js";
import { percentile, record } from "./report.js";
import { publish } from "./stack.js";

export async function pairedLatency(ctx: Ctx, o: { sockets: number; rate: number; paced: number; workers: number }): Promise<void> {
  const servers = [nth(await ctx.servers("gateway"), 0), nth(await ctx.servers("bare"), 0)];
  const pools = servers.map(() => new LoadPool(o.workers));
  try {
    for (const [i, s] of servers.entries()) {
      const pool = nth(pools, i);
      await pool.open(s.port, o.sockets, [ctx.stack.path(s, ctx.stack.token({ jti: "latency" }))]);
      const sub = await pool.subscribe(1, 1, "lat");
      const failed = sub.reduce((a, r) => a + r.failed, 0);
      if (failed > 0) console.error(`${failed} subscribes failed on ${s.name}`);
    }
    const warm = pools.map((p) => p.expect(200, 60_000));
    await publish(ctx.stack.nc, { prefix: "lat", rooms: 1, count: 200 });
    await Promise.all(warm);
    await Promise.all(pools.map((p) => p.reset()));
    const arrived = pools.map((p) => p.expect(o.paced, 120_000));
    const c0 = servers.map((s) => cpuSeconds(s.pid));
    const start = performance.timeOrigin + performance.now();
    await publish(ctx.stack.nc, { prefix: "lat", rooms: 1, count: o.paced, ratePerS: o.rate });
    for (const [i, s] of servers.entries()) {
      const got = await nth(arrived, i);
      const lat = got.flatMap((g) => g.latencies).sort((a, b) => a - b);
      const deliveries = got.reduce((a, g) => a + g.messages, 0);
      const counters = sumCounters(await nth(pools, i).stats());
      record("1 one room", `${o.rate} msg/s × ${o.sockets} subscribers, side by side`, s.name, {
        deliveries,
        "deliveries/s": deliveries / ((Math.max(...got.map((g) => g.at)) - start) / 1000),
        "p50 ms": percentile(lat, 50),
        "p90 ms": percentile(lat, 90),
        "p99 ms": percentile(lat, 99),
        "max ms": lat.at(-1) ?? NaN,
        "server cpu µs/msg": ((cpuSeconds(s.pid) - nth(c0, i)) * 1e6) / o.paced,
        "frames/read": counters.frames / Math.max(1, counters.reads),
        missing: got.reduce((a, g) => a + (g.target - g.messages), 0),
      });
    }
  } finally {
    for (const p of pools) p.stop();
    for (const s of servers) await s.stop();
  }
}
