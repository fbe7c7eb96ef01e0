/**
 * No input makes a service answer 5xx or crash (docs/SECURITY.md, "Input"). Generated requests (fast-check, a fixed
 * seed so a failure replays) go to every route each HTTP service documents in its /openapi.json — path parameters,
 * query strings, JSON bodies and credentials of every kind — and generated frames go to a real gateway socket: the
 * request types with fields of any type, and arbitrary text. Every HTTP answer must be below 500 with the contract's
 * error body; every socket is answered or closed with a protocol code; afterwards each service is still alive and
 * its output holds no uncaught error.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REQUEST_TYPES } from "@switchboard/protocol";
import { issueToken, startCluster, type Cluster } from "./helpers/cluster.js";
import { connectTo } from "./helpers/gateway.js";
import WebSocket from "ws";
import { openSocket } from "./helpers/ws.js";

// A fixed seed so a failure replays; FUZZ_SEED and FUZZ_RUNS explore further (FUZZ_RUNS=5000 npx vitest run …).
const SEED = Number(process.env["FUZZ_SEED"] ?? 20261203);
const RUNS = Number(process.env["FUZZ_RUNS"] ?? 250);
let cluster: Cluster;
let token: string;

beforeAll(async () => {
  cluster = await startCluster();
  token = await issueToken(cluster, { clientId: "fuzz", role: "moderator" });
}, 120_000);
afterAll(async () => {
  await cluster?.close();
});

interface Route {
  method: string;
  path: string;
}

async function routesOf(service: "auth" | "publish-ingest" | "history"): Promise<Route[]> {
  const doc = (await (await fetch(`${cluster.url(service)}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  return Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => ({ method: method.toUpperCase(), path })));
}

/** Text that stresses a path segment or a query value: the room alphabet, dots, percent escapes, unicode, long runs. */
const segment = fc.oneof(
  fc.string({ maxLength: 140 }),
  fc.stringMatching(/^[A-Za-z0-9_\-:@=+,;~!]{1,140}$/),
  fc.constantFrom("", ".", "..", "%", "%zz", "%00", "a.b", "*", ">", "x".repeat(3000), "m_1", "con_x", "\u{1F600}"),
);
const jsonBody = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.dictionary(
    fc.constantFrom("event", "data", "room", "clientId", "messages", "limits", "role", "expiresIn", "count"),
    fc.jsonValue({ maxDepth: 3 }),
  ),
  fc.string({ maxLength: 200 }),
);

describe("generated HTTP requests", () => {
  for (const service of ["auth", "publish-ingest", "history"] as const) {
    it(`${service}: no 5xx (but 501 for what a vendor surface does not support) on any documented route`, async () => {
      const routes = await routesOf(service);
      expect(routes.length).toBeGreaterThan(3);
      // Mostly good credentials, so that most requests get past authentication into validation and the handlers.
      const credentials = fc.oneof(
        { weight: 4, arbitrary: fc.constant({ authorization: `Bearer ${cluster.devKey}` }) },
        { weight: 2, arbitrary: fc.constant({ authorization: `Bearer ${cluster.adminToken}` }) },
        { weight: 2, arbitrary: fc.constant({ authorization: `Bearer ${token}` }) },
        {
          weight: 1,
          arbitrary: fc.constantFrom<Record<string, string>>(
            {},
            { authorization: "Bearer app1.key1:wrong" },
            { authorization: "Basic !!!" },
          ),
        },
      );
      const seen: string[] = [];
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...routes),
          fc.array(segment, { minLength: 4, maxLength: 4 }),
          fc.dictionary(fc.constantFrom("limit", "direction", "before", "after", "start", "end", "next", "prefix", "x"), segment),
          jsonBody,
          credentials,
          async (route, params, query, body, headers) => {
            let i = 0;
            const path = route.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(params[i++] ?? ""));
            const qs = new URLSearchParams(query).toString();
            const withBody = route.method !== "GET" && route.method !== "DELETE";
            const res = await fetch(`${cluster.url(service)}${path}${qs === "" ? "" : `?${qs}`}`, {
              method: route.method,
              headers: withBody ? { ...headers, "content-type": "application/json" } : headers,
              ...(withBody ? { body: JSON.stringify(body) } : {}),
            });
            const text = await res.text();
            seen.push(`${route.method} ${route.path} ${res.status}`);
            const vendorUnsupported = res.status === 501 && /^\/(openvidu|v2|session|ivs)/.test(route.path);
            expect(res.status < 500 || vendorUnsupported, `${route.method} ${path}?${qs} → ${res.status} ${text.slice(0, 300)}`).toBe(true);
            // Switchboard's own routes answer every error with the contract's body (vendor routes use the vendor's).
            if (res.status >= 400 && route.path.startsWith("/v1/")) {
              const error = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
              expect([typeof error?.code, typeof error?.message], `${route.method} ${path} → ${res.status} ${text.slice(0, 300)}`).toEqual([
                "string",
                "string",
              ]);
            }
          },
        ),
        { numRuns: RUNS, seed: SEED },
      );
      expect(seen.length).toBeGreaterThanOrEqual(RUNS);
      const health = await fetch(`${cluster.url(service)}/healthz`);
      expect(health.status).toBe(200);
      expect(cluster.services.get(service)!.output()).not.toMatch(/uncaught|unhandled|"level":(50|60)/i);
    }, 120_000);
  }
});

describe("generated socket frames", () => {
  it("the gateway answers or closes with a protocol code, never crashes, and keeps serving", async () => {
    const field = fc.oneof(fc.jsonValue({ maxDepth: 3 }), segment);
    const request = fc.record(
      {
        type: fc.oneof(fc.constantFrom(...REQUEST_TYPES), fc.string({ maxLength: 20 })),
        id: fc.oneof(fc.nat(), fc.string({ maxLength: 5 }), fc.constant(null)),
        room: segment,
        event: segment,
        data: fc.jsonValue({ maxDepth: 3 }),
        since: field,
        clientId: field,
        connectionId: field,
        messageId: field,
        limit: field,
        token: field,
      },
      { requiredKeys: ["type"] },
    );
    const frame = fc.oneof(
      { weight: 4, arbitrary: request.map((r) => JSON.stringify(r)) },
      { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
    );
    const frames = fc.sample(frame, { numRuns: RUNS + 150, seed: SEED });
    const closes: number[] = [];
    let sock = openSocket(cluster.wsUrl(token));
    await sock.waitFor((f) => f.type === "connected");
    let unanswered = 0;
    for (const text of frames) {
      if (sock.ws.readyState !== WebSocket.OPEN) {
        closes.push((await sock.closed).code);
        sock = openSocket(cluster.wsUrl(token));
        await sock.waitFor((f) => f.type === "connected");
      }
      const before = sock.frames.length;
      sock.ws.send(text);
      // Each frame is answered (a reply, or a push it caused) or the socket is closed.
      const answered = await Promise.race([
        sock.closed.then(() => true),
        sock
          .waitFor((f) => sock.frames.indexOf(f) >= before, 5000)
          .then(
            () => true,
            () => false,
          ),
      ]);
      if (!answered) unanswered++;
    }
    expect(unanswered).toBe(0);
    sock.close();
    // Closes come only from the protocol's own rules: repeated malformed frames, a token the frames revoked, a
    // moderation the frames asked for.
    for (const code of closes) expect([4008, 4004, 1000, 1009]).toContain(code);
    const fresh = await connectTo(cluster, await issueToken(cluster, { clientId: "after" }));
    expect(await fresh.request("ping")).toMatchObject({ ok: true });
    fresh.close();
    expect(cluster.services.get("fanout-gateway")!.output()).not.toMatch(/uncaught|unhandled|"level":(50|60)/i);
  }, 120_000);
});
