/**
 * auth benchmark (issue 5, docs/HTTP-API.md). Starts its own nats-server (temporary store) and one auth process on
 * 127.0.0.1, then measures:
 *   1. tokens/s from POST /v1/tokens, one token per request, over keep-alive HTTP/1.1        target ≥ 10,000/s
 *   2. tokens/s from POST /v1/tokens with count=100 (same connections)
 *   3. verifyToken on a cached key, in this process, on one core                               target ≥ 50,000/s
 *   4. for reference, signing one token with jose (the SDK path) vs node:crypto (the auth service path)
 * The load client is a lean raw-socket keep-alive client (one request in flight per connection, responses framed
 * by content-length) so that it takes as little as possible of the CPU the auth process needs.
 * Options (env): BENCH_SECONDS (per HTTP phase, default 8), BENCH_CONNECTIONS (default 32), BENCH_VERIFY_SECONDS
 * (default 3), BENCH_PHASES (comma list of single,batch,verify; default all), BENCH_PROFILE=<dir> (write a V8 CPU profile of the auth process there;
 * summarise it with `node bench/dist/ingest-profile.js <file>`). Every phase is bounded in
 * time and in count (MAX_REQUESTS, MAX_VERIFIES). Besides wall-clock rates it prints rates per CPU-second of the
 * measured process, which stay meaningful when other work shares the machine.
 */
import { createHmac, randomBytes } from "node:crypto";

import { RawConn, cpuSeconds, rawPost } from "./lib.js";
import { startNatsServer, startService, waitReady } from "@switchboard/dev";
import { KeyRegistry, SecretBox, createLogger, verifyToken, type KV } from "@switchboard/core";
import { buildClaims, signToken, tokenHeader, tokenPayload } from "@switchboard/protocol";

const SECONDS = Number(process.env["BENCH_SECONDS"] ?? 8);
const CONNECTIONS = Number(process.env["BENCH_CONNECTIONS"] ?? 32);
const VERIFY_SECONDS = Number(process.env["BENCH_VERIFY_SECONDS"] ?? 3);
const MAX_REQUESTS = 1_000_000;
const MAX_VERIFIES = 2_000_000;
const PROFILE_DIR = process.env["BENCH_PROFILE"];
const PHASES = new Set((process.env["BENCH_PHASES"] ?? "single,batch,verify").split(","));
function tokenRequest(port: number, apiKey: string, body: string): Buffer {
  return rawPost(port, "/v1/tokens", `Bearer ${apiKey}`, body);
}

async function httpPhase(name: string, pid: number, conns: RawConn[], request: Buffer, tokensPerRequest: number): Promise<number> {
  const deadline = performance.now() + SECONDS * 1000;
  let requests = 0;
  let failed = 0;
  const cpu0 = cpuSeconds(pid);
  const start = performance.now();
  await Promise.all(
    conns.map(async (c) => {
      while (performance.now() < deadline && requests < MAX_REQUESTS) {
        requests++;
        if ((await c.send(request)) !== 201) failed++;
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  const cpu = cpuSeconds(pid) - cpu0;
  const rate = ((requests - failed) * tokensPerRequest) / secs;
  console.log(
    `${name}: ${requests} requests in ${secs.toFixed(1)} s, ${failed} failed → ${Math.round((requests - failed) / secs)} req/s, ` +
      `${Math.round(rate)} tokens/s; auth used ${cpu.toFixed(1)} CPU-s → ${Math.round(((requests - failed) * tokensPerRequest) / cpu)} tokens per CPU-second`,
  );
  return rate;
}

async function verifyPhase(): Promise<number> {
  const log = createLogger("bench", "silent");
  const box = new SecretBox(randomBytes(32));
  const secret = randomBytes(32).toString("base64url");
  const kid = "app1.key1";
  const record = Buffer.from(JSON.stringify({ appId: "app1", keyId: "key1", createdAt: 0, secret: box.seal(secret, kid) }));
  // The registry reads one KV entry on the first miss; after that the key is cached (the gateway's steady state).
  const kv = { get: async () => ({ operation: "PUT", value: record }) } as unknown as KV; // a stub KV: only get() is used
  const keys = new KeyRegistry(kv, box, log);
  await keys.get(kid);
  const claims = buildClaims(
    { clientId: "bench-user", role: "publisher", permissions: { "chat:*": ["*"] }, attributes: { team: "a" } },
    { jti: "bench-jti" },
  );
  const token = await signToken(claims, { appId: "app1", keyId: "key1", secret });
  await verifyToken(token, { keys });
  const deadline = performance.now() + VERIFY_SECONDS * 1000;
  let n = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  while (n < MAX_VERIFIES && (n & 1023 || performance.now() < deadline)) {
    await verifyToken(token, { keys });
    n++;
  }
  const secs = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu0);
  const cpu = (used.user + used.system) / 1e6;
  const rate = n / secs;
  console.log(
    `verifyToken (cached key, one thread): ${n} in ${secs.toFixed(2)} s → ${Math.round(rate)} verifications/s, ` +
      `${Math.round(n / cpu)} per CPU-second (${token.length}-char token)`,
  );
  return rate;
}

async function signPhase(): Promise<void> {
  const secret = randomBytes(32).toString("base64url");
  const key = { appId: "app1", keyId: "key1", secret };
  const claims = buildClaims({ clientId: "u" }, { jti: "j" });
  const hmacKey = Buffer.from(secret);
  const crypto = () => {
    const input = `${Buffer.from(JSON.stringify(tokenHeader("app1.key1"))).toString("base64url")}.${Buffer.from(JSON.stringify(tokenPayload(claims))).toString("base64url")}`;
    return `${input}.${createHmac("sha256", hmacKey).update(input).digest("base64url")}`;
  };
  if (crypto() !== (await signToken(claims, key))) throw new Error("node:crypto and jose tokens differ");
  for (const [name, fn] of [
    ["jose SignJWT", () => signToken(claims, key)],
    ["node:crypto HMAC", async () => crypto()],
  ] as const) {
    const deadline = performance.now() + 1000;
    let n = 0;
    const start = performance.now();
    while (performance.now() < deadline && n < MAX_VERIFIES) {
      await fn();
      n++;
    }
    console.log(`sign one token with ${name}: ${Math.round(n / ((performance.now() - start) / 1000))}/s`);
  }
}

async function main(): Promise<void> {
  console.log(`auth bench: ${CONNECTIONS} keep-alive connections, ${SECONDS} s per HTTP phase, node ${process.version}`);
  const nats = await startNatsServer();
  const apiKey = `app1.key1:${randomBytes(32).toString("base64url")}`;
  const auth = await startService("auth", {
    env: {
      NATS_URL: nats.url,
      LOG_LEVEL: "warn",
      SWITCHBOARD_MASTER_KEY: randomBytes(32).toString("hex"),
      SWITCHBOARD_DEV_KEY: apiKey,
      // The per-key limit would cap a one-key benchmark; raise it far above what is measured.
      SWITCHBOARD_TOKEN_RATE: "10000000",
      SWITCHBOARD_TOKEN_BURST: "10000000",
      // The ingest bench's profiler hook works for any service (--cpu-prof is not allowed in NODE_OPTIONS).
      ...(PROFILE_DIR !== undefined
        ? { BENCH_PROFILE: PROFILE_DIR, NODE_OPTIONS: `--import=${new URL("./ingest-profile.js", import.meta.url).href}` }
        : {}),
    },
  });
  const conns: RawConn[] = [];
  try {
    await waitReady(auth);
    for (let i = 0; i < CONNECTIONS; i++) conns.push(await RawConn.open(auth.port));
    const single = tokenRequest(auth.port, apiKey, JSON.stringify({ clientId: "user-1", role: "publisher" }));
    const batch = tokenRequest(auth.port, apiKey, JSON.stringify({ clientId: "user-1", role: "publisher", count: 100 }));
    // Warm-up (JIT, key cache), not counted.
    for (let i = 0; i < 2000; i++) await conns[i % conns.length]!.send(single);
    const pid = auth.process.pid!;
    const one = PHASES.has("single") ? await httpPhase("POST /v1/tokens (1 token/request)", pid, conns, single, 1) : 0;
    const hundred = PHASES.has("batch") ? await httpPhase("POST /v1/tokens (count=100)", pid, conns, batch, 100) : 0;
    for (const c of conns) c.close();
    conns.length = 0;
    await auth.stop(); // graceful, so a CPU profile (BENCH_PROFILE) is written
    const verify = PHASES.has("verify") ? await verifyPhase() : 0;
    if (PHASES.has("verify")) await signPhase();
    console.log(
      `\nsummary: issuance ${Math.round(one)} tokens/s single (target 10,000), ${Math.round(hundred)} tokens/s batched; ` +
        `verify ${Math.round(verify)}/s (target 50,000)`,
    );
  } finally {
    for (const c of conns) c.close();
    await auth.kill();
    await nats.dispose();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
