/**
 * The OpenVidu drop-in with the real, unmodified openvidu-node-client 2.32 against real services: only the URL and
 * the secret (the Switchboard API key) set. Sessions, connections and tokens through the client; a native socket
 * connecting with a connection's token (a connect URL), its connectionId the connection's id; force-unpublish (mute) and force-disconnect taking effect on
 * that socket; every error status the client can see (it rejects with Error("<status>")).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpenVidu, OpenViduRole, type Connection } from "openvidu-node-client";
import type { Cluster } from "./helpers/cluster.js";
import { openSocket, type TestSocket } from "./helpers/ws.js";
import { api } from "./helpers/auth.js";
import { createAppKey, startVendorCluster } from "./helpers/vendors.js";

let cluster: Cluster;
let ov: OpenVidu;
let gatewayUrl: string;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  cluster = await startVendorCluster();
  gatewayUrl = `ws://127.0.0.1:${cluster.services.get("fanout-gateway")?.port ?? 0}`;
  ov = new OpenVidu(cluster.url("auth"), cluster.devKey);
}, 180_000);

afterAll(async () => {
  for (const s of sockets) s.close();
  await (cluster as Cluster | undefined)?.close();
});

function connect(token: string): TestSocket {
  const s = openSocket(token);
  sockets.push(s);
  return s;
}

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("expected the call to reject");
}

describe("openvidu-node-client against Switchboard", () => {
  it("creates a session, a connection whose token connects a socket, mutes and disconnects it, and closes the session", async () => {
    const session = await ov.createSession({ customSessionId: "ov-room-1" });
    expect(session.sessionId).toBe("ov-room-1");
    // A duplicate id: the client gets 409, then fetches the existing session and resolves.
    const again = await ov.createSession({ customSessionId: "ov-room-1" });
    expect(again.sessionId).toBe("ov-room-1");

    const alice = await session.createConnection({ role: OpenViduRole.PUBLISHER, data: "alice" });
    expect(alice.connectionId).toMatch(/^con_[A-Za-z0-9_-]{12}$/);
    expect(alice.status).toBe("pending");
    expect(alice.connectionProperties.role).toBe("PUBLISHER");
    expect(alice.token.startsWith(`${gatewayUrl}/v1/ws?sessionId=ov-room-1&token=ey`)).toBe(true);
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- the deprecated call is part of the surface served (POST /tokens)
    const bobToken = await session.generateToken({ role: OpenViduRole.SUBSCRIBER, data: "bob" });
    expect(bobToken.startsWith(`${gatewayUrl}/v1/ws?sessionId=ov-room-1&token=ey`)).toBe(true);

    // The token is a URL that connects as it is; the socket's clientId is the connection id.
    const a = connect(alice.token);
    const connected = await a.waitFor((f) => f.type === "connected");
    expect(connected["clientId"]).toBe(alice.connectionId);
    expect(connected["connectionId"]).toBe(alice.connectionId);
    const b = connect(bobToken);
    await b.waitFor((f) => f.type === "connected");
    expect((await b.request("subscribe", { room: "session:ov-room-1" }))["ok"]).toBe(true);
    expect((await a.request("presence.join", { room: "session:ov-room-1" }))["ok"]).toBe(true);

    // fetch(): alice is active (present in the session room), bob pending (only subscribed).
    expect(await session.fetch()).toBe(true);
    const byId = new Map(session.connections.map((c: Connection) => [c.connectionId, c]));
    expect(byId.get(alice.connectionId)?.status).toBe("active");
    expect(byId.size).toBe(2);
    const bob = session.connections.find((c: Connection) => c.connectionId !== alice.connectionId) as Connection;
    expect(bob.status).toBe("pending");
    expect(bob.connectionProperties.role).toBe("SUBSCRIBER");
    expect(bob.serverData).toBe("bob");

    // Messages flow between the two sockets.
    const sent = await a.request("publish", { room: "session:ov-room-1", event: "chat", data: "hi" });
    expect(sent["ok"]).toBe(true);
    const got = await b.waitFor((f) => f.type === "message" && f["event"] === "chat");
    expect(got).toMatchObject({ data: "hi", clientId: alice.connectionId, connectionData: "alice" });

    // Force-unpublish = mute: alice's publishes are refused.
    await session.forceUnpublish(`str_${alice.connectionId}`);
    const muted = await a.request("publish", { room: "session:ov-room-1", event: "chat", data: "again" });
    expect(muted["ok"]).toBe(false);
    expect(JSON.stringify(muted["error"])).toMatch(/muted/);

    // Force-disconnect: bob's socket closes with 4004 and his token no longer connects.
    await session.forceDisconnect(bob.connectionId);
    expect((await b.closed).code).toBe(4004);
    const retry = connect(bobToken);
    expect((await retry.closed).code).toBe(4004);

    // fetch() of every session lists it; close() ends alice's socket (4004).
    await ov.fetch();
    expect(ov.activeSessions.some((s) => s.sessionId === "ov-room-1")).toBe(true);
    await session.close();
    expect((await a.closed).code).toBe(4004);
  });

  it("generates a session id when none is asked for and shows the session as OpenVidu does", async () => {
    const session = await ov.createSession();
    expect(session.sessionId).toMatch(/^ses_[A-Za-z0-9_-]{12}$/);
    const res = await api(cluster.url("auth"), "GET", `/openvidu/api/sessions/${session.sessionId}?pendingConnections=true`, {
      auth: `Basic ${Buffer.from(`OPENVIDUAPP:${cluster.devKey}`).toString("base64")}`,
    });
    expect(res.body).toMatchObject({
      id: session.sessionId,
      object: "session",
      sessionId: session.sessionId,
      mediaMode: "ROUTED",
      recordingMode: "MANUAL",
      customSessionId: "",
      recording: false,
      broadcasting: false,
      connections: { numberOfElements: 0, content: [] },
    });
    await session.close();
  });

  it("rejects with the status for each mistake the client can make", async () => {
    const session = await ov.createSession({ customSessionId: "ov-errors" });
    // bad credentials
    expect(await rejection(new OpenVidu(cluster.url("auth"), `${cluster.devKey}x`).createSession())).toBe("401");
    // bad input: data over 1000 characters
    expect(await rejection(session.createConnection({ data: "x".repeat(1001) }))).toBe("400");
    // unknown connection and stream
    expect(await rejection(session.forceDisconnect("con_nothing"))).toBe("404");
    expect(await rejection(session.forceUnpublish("str_con_nothing"))).toBe("404");
    // recording is not available
    expect(await rejection(ov.startRecording("ov-errors"))).toBe("501");
    // another app cannot see or use this app's session
    const other = new OpenVidu(cluster.url("auth"), await createAppKey(cluster, "other-ov"));
    const foreign = await other.createSession({ customSessionId: "ov-errors" }); // its own session of that name
    await foreign.close();
    expect(await rejection(foreign.createConnection())).toBe("404");
    // a closed session: unknown from then on
    await session.close();
    expect(await rejection(session.createConnection())).toBe("404");
    expect(await rejection(session.close())).toBe("404");
  });

  it("changes a connection's role with PATCH: a new token, the old one refused", async () => {
    const session = await ov.createSession({ customSessionId: "ov-patch" });
    const c = await session.createConnection({ role: OpenViduRole.SUBSCRIBER });
    const oldToken = c.token;
    const updated = await session.updateConnection(c.connectionId, { role: OpenViduRole.MODERATOR });
    expect(updated?.connectionProperties.role).toBe("MODERATOR");
    const res = await api(cluster.url("auth"), "GET", `/openvidu/api/sessions/ov-patch/connection/${c.connectionId}`, {
      auth: `Basic ${Buffer.from(`OPENVIDUAPP:${cluster.devKey}`).toString("base64")}`,
    });
    expect(res.body).toMatchObject({ role: "MODERATOR", status: "pending" });
    const newToken = res.body["token"] as string;
    expect(newToken).not.toBe(oldToken);
    const s = connect(newToken);
    await s.waitFor((f) => f.type === "connected");
    expect((await s.request("moderate.mute", { room: "session:ov-patch", clientId: "nobody" }))["ok"]).toBe(true);
    expect((await connect(oldToken).closed).code).toBe(4004);
    await session.close();
  });
});
