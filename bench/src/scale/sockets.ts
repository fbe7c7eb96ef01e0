/**
 * Socket scenarios of the scale benchmark (bench/README.md): idle sockets on one server (memory per socket and the
 * time to reach the count), a connect storm with a distinct token per socket (accept rate and connect-time tail),
 * and presence churn and client publishes over two gateways.
 */
import { cpuSeconds } from "../lib.js";
import type { Ctx } from "./fanout.js";
import { sumCounters } from "./pool.js";
import { nth, type OpenResult } from "./protocol.js";
import { median, percentile, record } from "./report.js";
import { rssBytes, type Server } from "./stack.js";

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

/**
 * Scenario 4: `sockets` connects at once (a distinct token each, so each is verified), `inFlight` per worker, on the
 * gateway, bare uWS and bare + HMAC, all three running throughout.
 *
 * The load workers are the slowest part of a storm (a client connect costs several times a server accept), and a
 * cold worker spends about twice the CPU per connect of a warm one (measured: 640-780 ms of worker CPU for 5000
 * connects to whichever server came first, 280-460 ms for the others): a server measured first looked half as fast.
 * So every server first takes two full-size warm-up storms (open and close twice: the gateway's JIT re-optimizes
 * after its first close-all, about 70 ms of compiling), then `rounds` measured storms follow in a rotated order
 * (gateway first in one round, bare in the next, ...) and each server's row is its median round.
 */
export async function storm(ctx: Ctx, o: { sockets: number; inFlight: number; rounds: number }): Promise<void> {
  const servers = [nth(await ctx.servers("gateway"), 0), nth(await ctx.servers("bare"), 0), nth(await ctx.servers("bare-hmac"), 0)];
  const paths = (s: Server, round: number) =>
    Array.from({ length: o.sockets }, (_, i) =>
      ctx.stack.path(
        s,
        ctx.stack.token({
          jti: `storm-${round}-${i}`,
          clientId: `user-${i}`,
          permissions: { [`room-${i % 50}`]: ["subscribe", "presence"] },
        }),
      ),
    );
  const once = async (s: Server, round: number) => {
    const urls = paths(s, round);
    await settle(1000);
    const c0 = cpuSeconds(s.pid);
    const r = opened(await ctx.pool.open(s.port, o.sockets, urls, { inFlight: o.inFlight }));
    const cpuS = cpuSeconds(s.pid) - c0;
    await ctx.pool.closeAll();
    if (r.failed > 0) console.error(`${s.name}: ${r.failed} connects failed; first error: ${r.firstError}`);
    return { ...r, cpuS };
  };
  for (let w = 1; w <= 2; w++) for (const s of servers) await once(s, -w);
  const results = new Map<Server, Array<Awaited<ReturnType<typeof once>>>>(servers.map((s) => [s, []]));
  for (let round = 0; round < o.rounds; round++) {
    for (let k = 0; k < servers.length; k++) {
      const s = nth(servers, (round + k) % servers.length);
      const r = await once(s, round);
      results.get(s)?.push(r);
      console.log(`  round ${round + 1}/${o.rounds} ${s.name}: ${Math.round(r.ready / r.seconds)} connects/s`);
    }
  }
  for (const s of servers) {
    const rs = results.get(s) ?? [];
    const rates = rs.map((r) => r.ready / r.seconds);
    record("4 connect storm", `${o.sockets} connects, ${o.inFlight * ctx.pool.size} in flight, median of ${o.rounds}`, s.name, {
      accepted: Math.min(...rs.map((r) => r.ready)),
      failed: rs.reduce((a, r) => a + r.failed, 0),
      "connects/s": median(rates),
      "min connects/s": Math.min(...rates),
      "max connects/s": Math.max(...rates),
      "p50 ms": median(rs.map((r) => percentile(r.connect, 50))),
      "p99 ms": median(rs.map((r) => percentile(r.connect, 99))),
      "server cpu µs/connect": median(rs.map((r) => (r.cpuS * 1e6) / Math.max(1, r.ready))),
    });
  }
  for (const s of servers) await s.stop();
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
