/**
 * Socket scenarios of the scale benchmark (bench/README.md): idle sockets on one server (memory per socket and the
 * time to reach the count), a connect storm with a distinct token per socket (accept rate and connect-time tail),
 * and presence churn and client publishes over two gateways.
 */
import { cpuSeconds } from "../lib.js";
import type { Ctx } from "./fanout.js";
import { sumCounters } from "./pool.js";
import { nth, type OpenResult } from "./protocol.js";
import { percentile, record } from "./report.js";
import { rssBytes } from "./stack.js";

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

function opened(rs: OpenResult[]): { ready: number; failed: number; seconds: number; connect: number[]; firstError: string | undefined } {
  return {
    ready: rs.reduce((a, r) => a + r.ready, 0),
    failed: rs.reduce((a, r) => a + r.failed, 0),
    seconds: (Math.max(...rs.map((r) => r.end)) - Math.min(...rs.map((r) => r.start))) / 1000,
    connect: rs.flatMap((r) => r.connectMs).sort((a, b) => a - b),
    firstError: rs.find((r) => r.firstError !== undefined)?.firstError,
  };
}

/** Scenario 3: `sockets` idle sockets on one server: RSS per socket, time to open them all, errors. */
export async function idle(ctx: Ctx, o: { sockets: number }): Promise<void> {
  for (const kind of ["gateway", "bare"] as const) {
    const s = nth(await ctx.servers(kind), 0);
    await settle(1500);
    const rss0 = rssBytes(s.pid);
    const paths = [ctx.stack.path(s, ctx.stack.token({ jti: "idle", ttlS: 7200 }))];
    const r = opened(await ctx.pool.open(s.port, o.sockets, paths, { inFlight: 128 }));
    await settle(3000);
    const rss1 = rssBytes(s.pid);
    if (ctx.profiling && s.kind === "gateway") {
      // --heapsnapshot-signal: the gateway writes Heap.*.heapsnapshot into its working directory.
      process.kill(s.pid, "SIGUSR2");
      await settle(15_000);
    }
    const stats = sumCounters(await ctx.pool.stats());
    if (r.failed > 0) console.error(`${r.failed} sockets failed; first error: ${r.firstError}`);
    record("3 idle sockets", `${o.sockets} sockets`, s.name, {
      open: r.ready,
      failed: r.failed,
      "seconds to open": r.seconds,
      "RSS before MB": rss0 / 2 ** 20,
      "RSS after MB": rss1 / 2 ** 20,
      "KB/socket": (rss1 - rss0) / 1024 / Math.max(1, r.ready),
      "closes/errors": [...Object.entries(stats.closes), ...Object.entries(stats.errors)].map(([k, v]) => `${k}:${v}`).join(" "),
    });
    await ctx.pool.closeAll();
    await s.stop();
  }
}

/** Scenario 4: `sockets` connects at once (a distinct token each, so each is verified), `inFlight` per worker. */
export async function storm(ctx: Ctx, o: { sockets: number; inFlight: number }): Promise<void> {
  for (const kind of ["gateway", "bare", "bare-hmac"] as const) {
    const s = nth(await ctx.servers(kind), 0);
    const paths = Array.from({ length: o.sockets }, (_, i) =>
      ctx.stack.path(
        s,
        ctx.stack.token({ jti: `storm-${i}`, clientId: `user-${i}`, permissions: { [`room-${i % 50}`]: ["subscribe", "presence"] } }),
      ),
    );
    // A first, smaller storm warms both servers' JIT; the measured one follows on fresh sockets.
    await ctx.pool.open(s.port, Math.min(1000, o.sockets), paths.slice(0, Math.min(1000, o.sockets)), { inFlight: o.inFlight });
    await ctx.pool.closeAll();
    await settle(1000);
    const c0 = cpuSeconds(s.pid);
    const r = opened(await ctx.pool.open(s.port, o.sockets, paths, { inFlight: o.inFlight }));
    const cpuS = cpuSeconds(s.pid) - c0;
    if (r.failed > 0) console.error(`${r.failed} connects failed; first error: ${r.firstError}`);
    record("4 connect storm", `${o.sockets} connects, ${o.inFlight * ctx.pool.size} in flight`, s.name, {
      accepted: r.ready,
      failed: r.failed,
      "connects/s": r.ready / r.seconds,
      "p50 ms": percentile(r.connect, 50),
      "p99 ms": percentile(r.connect, 99),
      "server cpu µs/connect": (cpuS * 1e6) / Math.max(1, r.ready),
    });
    await ctx.pool.closeAll();
    await s.stop();
  }
}

/** Scenario 6: presence join/leave churn and client publishes, closed loop, on sockets spread over two gateways. */
export async function churn(ctx: Ctx, o: { sockets: number; rooms: number; seconds: number; window: number }): Promise<void> {
  const servers = await ctx.servers("gateway", 2);
  for (const s of servers) {
    const paths = Array.from({ length: o.sockets / 2 }, (_, i) =>
      ctx.stack.path(s, ctx.stack.token({ jti: `c${s.port}-${i}`, clientId: `u${s.port}-${i}` })),
    );
    await ctx.pool.open(s.port, o.sockets / 2, paths);
  }
  const sub = await ctx.pool.subscribe(o.rooms, 1, "churn", true);
  const subFailed = sub.reduce((a, r) => a + r.failed, 0);
  for (const kind of ["presence", "publish"] as const) {
    await ctx.pool.reset();
    const c0 = servers.reduce((a, s) => a + cpuSeconds(s.pid), 0);
    const rs = await ctx.pool.requests(kind, o.rooms, "churn", o.window, o.seconds * 1000);
    const seconds = (Math.max(...rs.map((r) => r.end)) - Math.min(...rs.map((r) => r.start))) / 1000;
    const ok = rs.reduce((a, r) => a + r.ok, 0);
    const reply = rs.flatMap((r) => r.replyMs).sort((a, b) => a - b);
    const counters = sumCounters(await ctx.pool.stats());
    const failed = rs.reduce((a, r) => a + r.failed, 0) + subFailed;
    if (failed > 0)
      console.error(`${failed} failed: ${rs.find((r) => r.firstError)?.firstError ?? sub.find((r) => r.firstError)?.firstError}`);
    record(
      "6 churn and publish",
      `${kind === "presence" ? "presence join/leave" : "client publish"}, ${o.sockets} sockets on 2 gateways`,
      "gateway",
      {
        "ok/s": ok / seconds,
        failed,
        "reply p50 ms": percentile(reply, 50),
        "reply p99 ms": percentile(reply, 99),
        "pushes received/s": (kind === "presence" ? counters.presence : counters.messages) / seconds,
        "gateway cpu µs/op": ((servers.reduce((a, s) => a + cpuSeconds(s.pid), 0) - c0) * 1e6) / Math.max(1, ok),
      },
    );
  }
  await ctx.pool.closeAll();
  for (const s of servers) await s.stop();
}
