/**
 * Each service as its own NATS user, allowed only its subjects (deploy/nats/users.conf, docs/SECURITY.md): a real
 * nats-server loads the file that compose and Kubernetes use, the four services connect with their credentials, and a
 * scenario touching every feature across services runs without a single permissions violation in the server's log.
 * Then the users are tried where they must not go: a gateway writing API keys, a history writing to a room, anyone
 * deleting the rooms stream, a connection without credentials.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { STREAM_ROOMS } from "@switchboard/core";
import { issueToken, publishHttp, startCluster, type Cluster } from "./helpers/cluster.js";
import { connectTo } from "./helpers/gateway.js";
import { historyJson } from "./helpers/history.js";

const USERS_CONF = fileURLToPath(new URL("../deploy/nats/users.conf", import.meta.url));
const K8S_USERS_CONF = fileURLToPath(new URL("../k8s/base/nats/users.conf", import.meta.url));

// nats-server parses an environment variable as a configuration value: letters and digits, starting with a letter, read as text.
const password = () => `p${randomBytes(16).toString("hex")}`;
const PASSWORDS = {
  auth: password(),
  "publish-ingest": password(),
  history: password(),
  "fanout-gateway": password(),
  admin: password(),
};

const natsLog: string[] = [];
const violations = () => natsLog.filter((l) => /Violation/i.test(l));
let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({
    nats: {
      config: USERS_CONF,
      onLog: (line) => natsLog.push(line),
      env: {
        SWITCHBOARD_NATS_AUTH_PASSWORD: PASSWORDS.auth,
        SWITCHBOARD_NATS_INGEST_PASSWORD: PASSWORDS["publish-ingest"],
        SWITCHBOARD_NATS_HISTORY_PASSWORD: PASSWORDS.history,
        SWITCHBOARD_NATS_GATEWAY_PASSWORD: PASSWORDS["fanout-gateway"],
        SWITCHBOARD_NATS_ADMIN_PASSWORD: PASSWORDS.admin,
      },
    },
    serviceEnv: Object.fromEntries(
      (["auth", "publish-ingest", "history", "fanout-gateway"] as const).map((s) => [s, { NATS_USER: s, NATS_PASSWORD: PASSWORDS[s] }]),
    ),
  });
});
afterAll(async () => {
  await cluster?.close();
});

async function connectAs(user: keyof typeof PASSWORDS): Promise<NatsConnection> {
  return connect({ servers: cluster.nats.url, user, pass: PASSWORDS[user], name: `perm-test-${user}` });
}

/** Publishes with a reply and waits for the server's verdict: a permissions error arrives on the connection's status. */
async function refused(nc: NatsConnection, subject: string): Promise<string> {
  const errors = (async () => {
    for await (const s of nc.status()) if (s.type === "error") return String((s as { error: unknown }).error);
    return "closed";
  })();
  nc.publish(subject, "x");
  await nc.flush();
  return Promise.race([errors, new Promise<string>((res) => setTimeout(() => res("no error within 5 s"), 5000))]);
}

describe("NATS users per service", () => {
  it("Kubernetes loads the same users file as compose", () => {
    expect(readFileSync(K8S_USERS_CONF, "utf8")).toBe(readFileSync(USERS_CONF, "utf8"));
  });

  it("every feature works across the services with no permissions violation", async () => {
    const room = "perm:lobby";
    const alice = await connectTo(cluster, await issueToken(cluster, { clientId: "alice", role: "moderator" }));
    const bob = await connectTo(cluster, await issueToken(cluster, { clientId: "bob", role: "publisher" }));
    expect(await alice.request("subscribe", { room, presence: true })).toMatchObject({ ok: true });
    expect(await bob.request("subscribe", { room })).toMatchObject({ ok: true });
    expect(await bob.request("presence.join", { room, data: { mood: "ok" } })).toMatchObject({ ok: true });

    // HTTP publish (ingest), socket publish (gateway), delivery (republish), history over NATS and HTTP.
    expect((await publishHttp(cluster, room, { event: "e", data: 1 })).status).toBe(201);
    expect(await bob.request("publish", { room, event: "e", data: 2 })).toMatchObject({ ok: true, result: { offset: 2 } });
    await alice.waitFor((f) => f.type === "message" && f["offset"] === 2);
    expect(await alice.request("history", { room })).toMatchObject({ ok: true, result: { messages: [{ offset: 2 }, { offset: 1 }] } });
    const page = await historyJson(cluster, `/v1/rooms/${room}/messages`);
    expect(page.messages.map((m) => m.offset)).toEqual([2, 1]);
    expect(await historyJson(cluster, `/v1/rooms/${room}/presence`)).toMatchObject({ members: [{ clientId: "bob" }] });
    expect(await historyJson(cluster, `/v1/rooms/${room}/occupancy`)).toEqual({ connections: 2, subscribers: 2, presenceMembers: 1 });
    expect(await alice.request("occupancy", { room })).toMatchObject({ ok: true, result: { connections: 2 } });

    // Moderation from a socket (gateway) and over HTTP (ingest); a deleted message (stream delete + control).
    expect(await alice.request("moderate.mute", { room, clientId: "bob" })).toMatchObject({ ok: true });
    expect(await bob.request("publish", { room, event: "e", data: 3 })).toMatchObject({ ok: false, error: { code: "muted" } });
    expect(await alice.request("moderate.unmute", { room, clientId: "bob" })).toMatchObject({ ok: true });
    const del = await fetch(`${cluster.url("publish-ingest")}/v1/rooms/${room}/messages/m_1`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${cluster.devKey}` },
    });
    expect(del.status).toBe(200);

    // Auth: an app and a key (admin), a session, a revocation that closes bob's socket.
    const admin = { authorization: `Bearer ${cluster.adminToken}`, "content-type": "application/json" };
    const created = await fetch(`${cluster.url("auth")}/v1/apps`, { method: "POST", headers: admin, body: JSON.stringify({ name: "p" }) });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const made = await fetch(`${cluster.url("auth")}/v1/apps/${id}/keys`, { method: "POST", headers: admin, body: "{}" });
    expect(made.status).toBe(201);
    const keyId = ((await made.json()) as { key: string }).key.split(":")[0]!.split(".")[1]!;
    const dropped = await fetch(`${cluster.url("auth")}/v1/apps/${id}/keys/${keyId}`, {
      method: "DELETE",
      headers: { authorization: admin.authorization },
    });
    expect(dropped.status).toBeLessThan(300);
    const key = { authorization: `Bearer ${cluster.devKey}`, "content-type": "application/json" };
    const session = await fetch(`${cluster.url("auth")}/v1/sessions`, { method: "POST", headers: key, body: "{}" });
    expect(session.status).toBe(201);
    const { sessionId } = (await session.json()) as { sessionId: string };
    const closed = await fetch(`${cluster.url("auth")}/v1/sessions/${sessionId}`, {
      method: "DELETE",
      headers: { authorization: key.authorization },
    });
    expect(closed.status).toBeLessThan(300);
    expect(await historyJson(cluster, "/v1/rooms")).toMatchObject({ rooms: [{ room, messages: 1 }] });
    const revoke = await fetch(`${cluster.url("auth")}/v1/tokens/revoke`, {
      method: "POST",
      headers: key,
      body: JSON.stringify({ clientId: "bob" }),
    });
    expect(revoke.status).toBe(200);
    expect((await bob.closed).code).toBe(4004);
    alice.close();

    // The server logs violations in order: once a marker refusal made now is in the log, any earlier one is too.
    const marker = await connectAs("history");
    expect(await refused(marker, "sb.r.marker.end")).toMatch(/permissions violation/i);
    await marker.close();
    await expect.poll(() => violations().some((l) => l.includes("sb.r.marker.end")), { timeout: 5000 }).toBe(true);
    expect(violations().filter((l) => !l.includes("sb.r.marker.end"))).toEqual([]);
  });

  it("refuses each user what its service never does", async () => {
    const cases: Array<[keyof typeof PASSWORDS, string]> = [
      ["fanout-gateway", "$KV.sb_keys.app1.forged"],
      ["fanout-gateway", `$JS.API.STREAM.DELETE.${STREAM_ROOMS}`],
      ["history", "sb.r.app1.room"],
      ["history", "$KV.sb_apps.app1"],
      ["publish-ingest", "$KV.sb_revocations.x"],
      ["publish-ingest", `$JS.API.STREAM.PURGE.${STREAM_ROOMS}`],
      ["auth", "sb.live.app1.room"],
    ];
    for (const [user, subject] of cases) {
      const nc = await connectAs(user);
      expect([user, subject, await refused(nc, subject)]).toEqual([user, subject, expect.stringMatching(/permissions violation/i)]);
      await nc.close();
    }
    // The server logs each refusal: the log check of the scenario above can see one.
    await expect.poll(() => violations().length, { timeout: 5000 }).toBeGreaterThanOrEqual(cases.length + 1);
  });

  it("refuses a connection without credentials, and a wrong password", async () => {
    await expect(connect({ servers: cluster.nats.url, reconnect: false })).rejects.toThrow(/Authorization Violation/i);
    await expect(connect({ servers: cluster.nats.url, user: "history", pass: "not-the-password", reconnect: false })).rejects.toThrow(
      /Authorization Violation/i,
    );
  });
});
