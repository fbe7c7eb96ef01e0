/**
 * The scale benchmark (issue 13): measures the fanout-gateway, not its clients, against a bare uWebSockets.js server
 * started by the same script and loaded by the same clients in the same run.
 *
 *   npm run bench -- <scenario> [options]        (after npm ci; or node bench/dist/scale/main.js <scenario>)
 *
 * Scenarios (bench/README.md has what each measures; docs/PERFORMANCE.md the figures):
 *   one-room       1 room × --sockets 1000: max-rate deliveries/s (--burst 3000 msgs), then --rate 50 msg/s
 *                  for --paced 500 msgs: p50/p99 publish→receive
 *   rooms          100 rooms × 100 subscribers (1000 sockets), then 10,000 rooms × 2 (2000 sockets): subscription
 *                  set-up rate, memory per room, deliveries
 *   idle           --sockets 18000 idle sockets on one server: KB per socket, time to open them
 *   storm          --sockets 5000 connects, a distinct token each, --in-flight 128 per load worker, --rounds 3
 *                  (rotated order, median): connects/s, p99
 *   two-gateways   1 room × --sockets 1000 on one server, then split over two: deliveries/s
 *   churn          presence join/leave and client publishes, closed loop, 400 sockets on two gateways (no bare)
 *   all            every scenario in turn (about 4 minutes on a quiet 2-core machine)
 *
 * Options: --workers N load-client processes (default 4); --profile DIR starts gateways with --cpu-prof into DIR and
 * --heapsnapshot-signal=SIGUSR2 (the idle scenario then writes a heap snapshot of the gateway at its peak).
 * Output: one JSON line per measured row as it is measured, then a table per scenario with gateway ÷ bare ratios.
 * Everything listens on 127.0.0.1, the clients use source addresses 127.0.0.2–127.0.0.17, and every phase is bounded
 * in count and time; the script stops every process it started.
 */
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { manyRooms, oneRoom, twoGateways, type Ctx } from "./fanout.js";
import { LoadPool } from "./pool.js";
import { printTables } from "./report.js";
import { churn, idle, storm } from "./sockets.js";
import { Stack, type Server } from "./stack.js";

const SCENARIOS = ["one-room", "rooms", "idle", "storm", "two-gateways", "churn"] as const;
type Scenario = (typeof SCENARIOS)[number];

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i < 0 ? undefined : Number(process.argv[i + 1]);
  return v !== undefined && Number.isFinite(v) && v > 0 ? v : def;
}

function strArg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

/** Gateway settings for the bench: client publishes and presence churn are not held back by the per-socket rate. */
const GATEWAY_ENV = { SWITCHBOARD_PUBLISH_RATE: "100000", SWITCHBOARD_PUBLISH_BURST: "100000" };

async function run(which: Scenario, ctx: Ctx): Promise<void> {
  switch (which) {
    case "one-room":
      return oneRoom(ctx, { sockets: arg("sockets", 1000), burst: arg("burst", 3000), rate: arg("rate", 50), paced: arg("paced", 500) });
    case "rooms":
      await manyRooms(ctx, { rooms: 100, subs: 100, sockets: 1000, perRoom: 30 });
      return manyRooms(ctx, { rooms: 10_000, subs: 2, sockets: 2000, perRoom: 1 });
    case "idle":
      return idle(ctx, { sockets: arg("sockets", 18_000) });
    case "storm":
      return storm(ctx, { sockets: arg("sockets", 5000), inFlight: arg("in-flight", 128), rounds: arg("rounds", 3) });
    case "two-gateways":
      return twoGateways(ctx, { sockets: arg("sockets", 1000), burst: arg("burst", 3000) });
    case "churn":
      return churn(ctx, { sockets: 400, rooms: 20, seconds: 5, window: 1 });
  }
}

async function main(): Promise<void> {
  const which = process.argv[2];
  const list: Scenario[] = which === "all" ? [...SCENARIOS] : SCENARIOS.includes(which as Scenario) ? [which as Scenario] : [];
  if (list.length === 0) {
    console.error(`usage: npm run bench -- <${SCENARIOS.join("|")}|all> [--workers 4] [--profile DIR] [scenario options]`);
    process.exit(2);
  }
  const profile = strArg("profile");
  const nodeArgs =
    profile === undefined
      ? []
      : ["--cpu-prof", "--cpu-prof-interval=100", `--cpu-prof-dir=${resolve(profile)}`, "--heapsnapshot-signal=SIGUSR2"];
  const stack = await Stack.start();
  const pool = new LoadPool(arg("workers", 4));
  const ctx: Ctx = {
    stack,
    pool,
    profiling: profile !== undefined,
    servers: async (kind: "gateway" | "bare" | "bare-hmac", n = 1): Promise<Server[]> => {
      const out: Server[] = [];
      for (let i = 0; i < n; i++)
        out.push(kind === "gateway" ? await stack.gateway(GATEWAY_ENV, nodeArgs) : await stack.bare(kind === "bare-hmac"));
      return out;
    },
  };
  const hardStop = setTimeout(() => {
    console.error("the benchmark ran over 15 minutes; stopping");
    pool.stop();
    void stack.stop().finally(() => process.exit(1));
  }, 15 * 60_000);
  try {
    console.log(
      `load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}; ${pool.size} load workers`,
    );
    for (const s of list) await run(s, ctx);
  } finally {
    clearTimeout(hardStop);
    pool.stop();
    await stack.stop();
  }
  printTables();
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
