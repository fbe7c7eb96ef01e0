/**
 * Per-app socket limits (docs/PROTOCOL.md) through real processes: the admin API sets them on the app record
 * (`GET` / `PATCH /v1/apps/:app`), the gateway picks them up from the apps bucket's watch and applies them to sockets
 * opened afterwards (rooms per socket, publish token bucket, frame size, Origin allow-list), while an app without
 * limits keeps the gateway's defaults and a socket already open keeps the limits it was opened with.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { issueToken, startCluster, type Cluster } from "./helpers/cluster.js";
import { api, splitKey, type ApiResponse } from "./helpers/auth.js";
import { connectTo, type Connected } from "./helpers/gateway.js";
import { createApp } from "./helpers/history.js";

let cluster: Cluster;
let admin: string;
let devApp: string;

beforeAll(async () => {
  cluster = await startCluster();
  admin = `Bearer ${cluster.adminToken}`;
  devApp = splitKey(cluster.devKey).appId;
}, 120_000);

afterAll(async () => {
  await cluster?.close();
});

const adminCall = (method: string, path: string, body?: unknown, auth = admin) =>
  api(cluster.url("auth"), method, path, body === undefined ? { auth } : { auth, body });

function expectError(res: ApiResponse, status: number, code: string, message: string): void {
  expect({ status: res.status, code: res.body.error?.code, message: res.body.error?.message }).toEqual({ status, code, message });
}

/** The HTTP status of a WebSocket upgrade from `origin` (101 when the socket opened). */
function upgradeStatus(token: string, origin: string): Promise<number> {
  return new Promise<number>((resolve) => {
    const ws = new WebSocket(cluster.wsUrl(token), { origin, perMessageDeflate: false });
    ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
    ws.on("open", () => {
      resolve(101);
      ws.close();
    });
    ws.on("error", () => undefined);
  });
}

/** Waits until the gateway refuses `origin` for new sockets of the token's app (the watch delivered the change). */
async function waitUntilRefused(token: string, origin: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await upgradeStatus(token, origin)) !== 403) {
    if (Date.now() > deadline) throw new Error(`the gateway still accepts origin ${origin} 5 s after the PATCH`);
  }
}

async function tokenFor(key: string): Promise<string> {
  const res = await api(cluster.url("auth"), "POST", "/v1/tokens", { auth: `Bearer ${key}`, body: { clientId: "limits" } });
  expect(res.status).toBe(201);
  return res.body["token"] as string;
}

const LIMITS = { maxRoomsPerSocket: 2, publishRate: 1, publishBurst: 2, allowedOrigins: ["https://good.example"] };

describe("per-app limits", () => {
  let before: Connected;

  it("shows an app with no settings", async () => {
    const res = await adminCall("GET", `/v1/apps/${devApp}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: devApp, name: "dev", createdAt: res.body["createdAt"], limits: {}, retention: {} });
    expect(typeof res.body["createdAt"]).toBe("number");
    // A socket opened before the change (its app is now in the gateway's cache).
    before = await connectTo(cluster, await issueToken(cluster, { clientId: "before" }));
  });

  it("PATCH stores the limits and GET shows them", async () => {
    const res = await adminCall("PATCH", `/v1/apps/${devApp}`, { limits: LIMITS });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: devApp, name: "dev", createdAt: res.body["createdAt"], limits: LIMITS, retention: {} });
    const shown = await adminCall("GET", `/v1/apps/${devApp}`);
    expect(shown.body).toEqual(res.body);
  });

  it("applies them to a new socket: 3rd subscribe and 3rd quick publish are rate_limited, a wrong Origin gets 403", async () => {
    const token = await issueToken(cluster, { clientId: "limited" });
    await waitUntilRefused(token, "https://evil.example");
    expect(await upgradeStatus(token, "https://good.example")).toBe(101);
    const s = await connectTo(cluster, token, undefined, { origin: "https://good.example" });
    expect(await s.request("subscribe", { room: "lim:1" })).toMatchObject({ ok: true, result: { room: "lim:1" } });
    expect(await s.request("subscribe", { room: "lim:2" })).toMatchObject({ ok: true, result: { room: "lim:2" } });
    expect(await s.request("subscribe", { room: "lim:3" })).toEqual({
      type: "reply",
      id: 3,
      ok: false,
      error: { code: "rate_limited", message: "a socket may subscribe at most 2 rooms (maxRoomsPerSocket); unsubscribe one first" },
    });
    const replies = await Promise.all([1, 2, 3].map((i) => s.request("publish", { room: "lim:1", event: "e", data: i })));
    expect(replies.map((r) => r["ok"])).toEqual([true, true, false]);
    expect(replies[2]).toEqual({
      type: "reply",
      id: 6,
      ok: false,
      error: { code: "rate_limited", message: "publish rate over 1/s (burst 2); slow down" },
    });
    // Not a close: the socket still answers.
    expect(await s.request("ping")).toMatchObject({ ok: true });
    s.close();
  });

  it("leaves a socket opened before the change on the limits it was opened with", async () => {
    for (let i = 1; i <= 3; i++) expect(await before.request("subscribe", { room: `old:${i}` })).toMatchObject({ ok: true });
    const replies = await Promise.all([1, 2, 3].map((i) => before.request("publish", { room: "old:1", event: "e", data: i })));
    expect(replies.map((r) => r["ok"])).toEqual([true, true, true]);
    before.close();
  });

  it("keeps the gateway's defaults for an app without limits, and applies a lower frame size per app", async () => {
    const other = await createApp(cluster, "other");
    const token = await tokenFor(other.key);
    expect(await upgradeStatus(token, "https://evil.example")).toBe(101);
    const s = await connectTo(cluster, token, undefined, { origin: "https://evil.example" });
    for (let i = 1; i <= 3; i++) expect(await s.request("subscribe", { room: `free:${i}` })).toMatchObject({ ok: true });
    const replies = await Promise.all([1, 2, 3].map((i) => s.request("publish", { room: "free:1", event: "e", data: i })));
    expect(replies.map((r) => r["ok"])).toEqual([true, true, true]);

    expect(
      (await adminCall("PATCH", `/v1/apps/${other.appId}`, { limits: { maxFrameBytes: 2048, allowedOrigins: ["https://other.example"] } }))
        .status,
    ).toBe(200);
    const token2 = await tokenFor(other.key);
    await waitUntilRefused(token2, "https://evil.example");
    const t = await connectTo(cluster, token2);
    const frame = (size: number) => {
      const head = '{"type":"ping","id":9,"pad":"';
      return head + "x".repeat(size - head.length - 2) + '"}';
    };
    t.ws.send(frame(2048));
    expect(await t.waitFor((f) => f.type === "reply" && f["id"] === 9)).toEqual({ type: "reply", id: 9, ok: true, result: {} });
    t.ws.send(frame(2049));
    expect(await t.closed).toEqual({ code: 1009, reason: "frame over 2048 bytes" });
    // The socket opened before this app's change still takes bigger frames.
    s.ws.send(frame(4096));
    expect(await s.waitFor((f) => f.type === "reply" && f["id"] === 9)).toEqual({ type: "reply", id: 9, ok: true, result: {} });
    s.close();
  });

  it("null removes a setting, and retention is stored beside the limits", async () => {
    const res = await adminCall("PATCH", `/v1/apps/${devApp}`, {
      name: "renamed",
      limits: { publishRate: null, allowedOrigins: null },
      retention: { maxAgeMs: 60_000 },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: devApp,
      name: "renamed",
      createdAt: res.body["createdAt"],
      limits: { maxRoomsPerSocket: 2, publishBurst: 2 },
      retention: { maxAgeMs: 60_000 },
    });
    const cleared = await adminCall("PATCH", `/v1/apps/${devApp}`, { limits: null, retention: { maxAgeMs: null } });
    expect(cleared.body).toEqual({ id: devApp, name: "renamed", createdAt: res.body["createdAt"], limits: {}, retention: {} });
    expect((await adminCall("GET", `/v1/apps/${devApp}`)).body).toEqual(cleared.body);
  });

  it("answers 400 naming the field, 404 for an unknown app, 401 without the admin token", async () => {
    const path = `/v1/apps/${devApp}`;
    expectError(
      await adminCall("PATCH", path, { limits: { maxRoomsPerSocket: 0 } }),
      400,
      "bad_request",
      "body.limits.maxRoomsPerSocket: must be an integer from 1 to 10000, or null to remove it",
    );
    expectError(
      await adminCall("PATCH", path, { limits: { publishRate: "fast" } }),
      400,
      "bad_request",
      "body.limits.publishRate: must be an integer from 1 to 100000 (publishes per second), or null to remove it",
    );
    expectError(
      await adminCall("PATCH", path, { limits: { maxFrameBytes: 70_000 } }),
      400,
      "bad_request",
      "body.limits.maxFrameBytes: must be an integer from 1024 to 65536 (bytes), or null to remove it",
    );
    expectError(
      await adminCall("PATCH", path, { limits: { allowedOrigins: "https://a.example" } }),
      400,
      "bad_request",
      'body.limits.allowedOrigins: must be a list of 1 to 100 origins like "https://app.example" (scheme://host[:port], no path), or null to remove it',
    );
    expectError(
      await adminCall("PATCH", path, { limits: { rooms: 3 } }),
      400,
      "bad_request",
      "body.limits.rooms is not allowed: must NOT have additional properties",
    );
    expectError(
      await adminCall("PATCH", path, { retention: { maxMessagesPerRoom: -1 } }),
      400,
      "bad_request",
      "body.retention.maxMessagesPerRoom: must be an integer from 1 to 10000000, or null to remove it",
    );
    // Nothing was stored by the refused PATCHes.
    expect((await adminCall("GET", path)).body["limits"]).toEqual({});
    expectError(await adminCall("GET", "/v1/apps/no-such-app"), 404, "not_found", "app no-such-app does not exist");
    expectError(await adminCall("PATCH", "/v1/apps/no-such-app", { name: "x" }), 404, "not_found", "app no-such-app does not exist");
    const noAdmin = await adminCall("PATCH", path, { name: "x" }, `Bearer ${cluster.devKey}`);
    expect(noAdmin.status).toBe(401);
    expect(noAdmin.body.error?.code).toBe("unauthorized");
  });
});
