/**
 * Moderation over HTTP reaching real sockets (docs/HTTP-API.md → §5): publish-ingest sends the ControlCommand on the app's
 * control subject, the gateway acts on its sockets (close 4004, `message.deleted` push) and answers `{affected}`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloseCode } from "@switchboard/protocol";
import { issueToken, startCluster, type Cluster } from "./helpers/cluster.js";
import { ingest } from "./helpers/ingest.js";
import { openSocket, type TestSocket } from "./helpers/ws.js";

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster();
});

afterAll(async () => {
  await cluster?.close();
});

async function subscribed(clientId: string, room: string): Promise<TestSocket> {
  const sock = openSocket(cluster.wsUrl(await issueToken(cluster, { clientId })));
  await sock.waitFor((f) => f.type === "connected");
  expect(await sock.request("subscribe", { room })).toMatchObject({ ok: true });
  return sock;
}

describe("moderation over HTTP reaches sockets", () => {
  it("disconnects a client's sockets in the room with 4004 and leaves others connected", { timeout: 60_000 }, async () => {
    const mallory = await subscribed("mallory", "chat:mod");
    const alice = await subscribed("alice", "chat:mod");
    const res = await ingest(cluster, "POST", "/v1/rooms/chat:mod/disconnect", { clientId: "mallory", reason: "spam" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ affected: 1 });
    expect(await mallory.closed).toEqual({ code: CloseCode.KICKED, reason: "spam" });
    expect(await alice.request("ping")).toMatchObject({ ok: true });

    const none = await ingest(cluster, "POST", "/v1/rooms/chat:other/disconnect", { clientId: "alice" });
    expect(none.body).toEqual({ affected: 0 });
    alice.close();
  });

  it("deletes a message: subscribers get message.deleted and history no longer has it", { timeout: 60_000 }, async () => {
    const alice = await subscribed("alice", "chat:del");
    const pub = await ingest(cluster, "POST", "/v1/rooms/chat:del/messages", { event: "x", data: "oops" });
    const { id } = pub.body as { id: string };
    await alice.waitFor((f) => f.type === "message" && f["id"] === id);
    const res = await ingest(cluster, "DELETE", `/v1/rooms/chat:del/messages/${id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ affected: 1 });
    expect(await alice.waitFor((f) => f.type === "message.deleted")).toEqual({ type: "message.deleted", room: "chat:del", id });
    const hist = await fetch(`${cluster.url("history")}/v1/rooms/chat:del/messages`, {
      headers: { authorization: `Bearer ${cluster.devKey}` },
    });
    expect(((await hist.json()) as { messages: unknown[] }).messages).toEqual([]);
    alice.close();
  });
});
