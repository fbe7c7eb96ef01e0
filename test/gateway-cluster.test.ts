/**
 * Presence, occupancy and moderation across two gateway processes sharing one nats-server, through real sockets:
 * a change on one gateway reaches sockets on the other, commands from HTTP reach both, and the members of a
 * gateway that dies disappear (leave pushes and presence.get) within the presence TTL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServiceHandle } from "@switchboard/dev";
import { issueToken, publishHttp, startCluster, type Cluster } from "./helpers/cluster.js";
import { connectTo, waitForOffset } from "./helpers/gateway.js";
import type { Frame } from "./helpers/ws.js";

let cluster: Cluster;
let gw1: ServiceHandle;
let gw2: ServiceHandle;

beforeAll(async () => {
  cluster = await startCluster();
  gw1 = cluster.services.get("fanout-gateway")!;
  gw2 = await cluster.add("fanout-gateway", "gw2");
});

afterAll(async () => {
  await cluster?.close();
});

const presencePush = (action: string, clientId: string) => (f: Frame) =>
  f.type === "presence" && f["action"] === action && (f["member"] as { clientId: string }).clientId === clientId;

describe("presence across gateways", () => {
  it("pushes join, update and leave to watchers on the other gateway and answers presence.get from both", async () => {
    const room = "p:1";
    const watcher = await connectTo(cluster, await issueToken(cluster, { clientId: "watcher" }), gw1);
    expect(await watcher.request("subscribe", { room, presence: true })).toMatchObject({ ok: true });
    const plain = await connectTo(cluster, await issueToken(cluster, { clientId: "plain" }), gw1);
    await plain.request("subscribe", { room });

    const bob = await connectTo(cluster, await issueToken(cluster, { clientId: "bob" }), gw2);
    expect(await bob.request("presence.join", { room, data: { mood: "ok" } })).toEqual({ type: "reply", id: 1, ok: true, result: {} });
    const join = await watcher.waitFor(presencePush("join", "bob"));
    const member = join["member"] as { joinedAt: number };
    expect(join).toEqual({
      type: "presence",
      room,
      action: "join",
      member: { clientId: "bob", connectionId: bob.connectionId, data: { mood: "ok" }, joinedAt: member.joinedAt },
    });

    await bob.request("presence.update", { room, data: { mood: "great" } });
    const update = await watcher.waitFor(presencePush("update", "bob"));
    expect(update["member"]).toEqual({
      clientId: "bob",
      connectionId: bob.connectionId,
      data: { mood: "great" },
      joinedAt: member.joinedAt,
    });

    // A member of another room is not listed (the bucket read filters by room on nats-server 2.9 too).
    const carol = await connectTo(cluster, await issueToken(cluster, { clientId: "carol" }), gw1);
    await carol.request("presence.join", { room: "p:other" });
    for (const sock of [watcher, bob]) {
      const got = await sock.request("presence.get", { room });
      expect(got["result"]).toEqual({
        members: [{ clientId: "bob", connectionId: bob.connectionId, data: { mood: "great" }, joinedAt: member.joinedAt }],
      });
    }

    await bob.request("presence.leave", { room });
    const leave = await watcher.waitFor(presencePush("leave", "bob"));
    expect(leave["member"]).toMatchObject({ clientId: "bob", connectionId: bob.connectionId });
    expect((await watcher.request("presence.get", { room }))["result"]).toEqual({ members: [] });

    // Leave on close.
    await bob.request("presence.join", { room });
    await watcher.waitFor(
      (f) => f.type === "presence" && f["action"] === "join" && watcher.frames.filter(presencePush("join", "bob")).length === 2,
    );
    bob.close();
    await watcher.waitFor(() => watcher.frames.filter(presencePush("leave", "bob")).length === 2);
    expect((await watcher.request("presence.get", { room }))["result"]).toEqual({ members: [] });

    // Only sockets that asked for presence get its pushes.
    await plain.request("ping");
    expect(plain.frames.filter((f) => f.type === "presence")).toEqual([]);
    for (const s of [watcher, plain, carol]) s.close();
  });

  it("refuses presence without a clientId", async () => {
    const anon = await connectTo(cluster, await issueToken(cluster), gw2);
    expect(await anon.request("presence.join", { room: "p:anon" })).toMatchObject({
      ok: false,
      error: { code: "bad_request", message: "presence needs a token with a clientId" },
    });
    anon.close();
  });

  it("drops the members of a gateway that dies within the presence TTL", async () => {
    const room = "p:ghost";
    const gw3 = await cluster.add("fanout-gateway", "gw3");
    const watcher = await connectTo(cluster, await issueToken(cluster, { clientId: "w" }), gw1);
    await watcher.request("subscribe", { room, presence: true });
    const ghost = await connectTo(cluster, await issueToken(cluster, { clientId: "ghost" }), gw3);
    await ghost.request("presence.join", { room });
    await watcher.waitFor(presencePush("join", "ghost"));
    await gw3.kill();
    cluster.services.delete("gw3");
    const killedAt = Date.now();
    await watcher.waitFor(presencePush("leave", "ghost"), 25_000, "leave of the dead gateway's member");
    expect(Date.now() - killedAt).toBeLessThan(15_000);
    expect((await watcher.request("presence.get", { room }))["result"]).toEqual({ members: [] });
    watcher.close();
  }, 40_000);
});

describe("occupancy across gateways", () => {
  it("sums connections and subscribers over both gateways and counts presence members", async () => {
    const room = "o:1";
    const a = await connectTo(cluster, await issueToken(cluster, { clientId: "a" }), gw1);
    const b = await connectTo(cluster, await issueToken(cluster, { clientId: "b" }), gw2);
    const c = await connectTo(cluster, await issueToken(cluster, { clientId: "c" }), gw2);
    await a.request("subscribe", { room, presence: true });
    await b.request("subscribe", { room });
    await b.request("presence.join", { room });
    await c.request("presence.join", { room }); // a member that did not subscribe
    for (const s of [a, b]) {
      expect((await s.request("occupancy", { room }))["result"]).toEqual({ connections: 3, subscribers: 2, presenceMembers: 2 });
    }
    c.close();
    // c's gateway removes its presence after the close: wait for the leave instead of racing it.
    await a.waitFor(presencePush("leave", "c"));
    await b.request("unsubscribe", { room });
    expect((await a.request("occupancy", { room }))["result"]).toEqual({ connections: 2, subscribers: 1, presenceMembers: 1 });
    a.close();
    b.close();
  });
});

describe("moderation across gateways", () => {
  it("mutes and unmutes a client on the other gateway", async () => {
    const room = "m:mute";
    const mod = await connectTo(cluster, await issueToken(cluster, { clientId: "mod", role: "moderator" }), gw1);
    const dave = await connectTo(cluster, await issueToken(cluster, { clientId: "dave" }), gw2);
    expect(await mod.request("moderate.mute", { room, clientId: "dave" })).toMatchObject({ ok: true, result: { affected: 1 } });
    expect(await dave.request("publish", { room, event: "e", data: 1 })).toMatchObject({ ok: false, error: { code: "muted" } });
    expect(await dave.request("publish", { room: "m:elsewhere", event: "e", data: 1 })).toMatchObject({ ok: true });
    // A new connection of the muted client is muted too.
    const dave2 = await connectTo(cluster, await issueToken(cluster, { clientId: "dave" }), gw1);
    expect(await dave2.request("publish", { room, event: "e", data: 1 })).toMatchObject({ ok: false, error: { code: "muted" } });
    expect(await mod.request("moderate.unmute", { room, clientId: "dave" })).toMatchObject({ ok: true, result: { affected: 2 } });
    expect(await dave.request("publish", { room, event: "e", data: 2 })).toMatchObject({ ok: true });
    // By connectionId.
    expect(await mod.request("moderate.mute", { room, connectionId: dave.connectionId })).toMatchObject({ result: { affected: 1 } });
    expect(await dave.request("publish", { room, event: "e", data: 3 })).toMatchObject({ ok: false, error: { code: "muted" } });
    expect(await dave2.request("publish", { room, event: "e", data: 3 })).toMatchObject({ ok: true });
    for (const s of [mod, dave, dave2]) s.close();
  });

  it("keeps a clientId mute for gateways started after it, until unmuted", async () => {
    const room = "m:mute-later";
    const mod = await connectTo(cluster, await issueToken(cluster, { clientId: "mod", role: "moderator" }), gw1);
    expect(await mod.request("moderate.mute", { room, clientId: "erin" })).toMatchObject({ ok: true, result: { affected: 0 } });
    const gw3 = await cluster.add("fanout-gateway", "gw3");
    try {
      const erin = await connectTo(cluster, await issueToken(cluster, { clientId: "erin" }), gw3);
      expect(await erin.request("publish", { room, event: "e", data: 1 })).toMatchObject({ ok: false, error: { code: "muted" } });
      expect(await mod.request("moderate.unmute", { room, clientId: "erin" })).toMatchObject({ ok: true, result: { affected: 1 } });
      expect(await erin.request("publish", { room, event: "e", data: 2 })).toMatchObject({ ok: true });
      erin.close();
    } finally {
      await gw3.stop();
      mod.close();
    }
  });

  it("refuses moderation without the moderate capability", async () => {
    const pub = await connectTo(cluster, await issueToken(cluster, { clientId: "pub", role: "publisher" }), gw1);
    expect(await pub.request("moderate.disconnect", { room: "m:x", clientId: "anyone" })).toMatchObject({
      ok: false,
      error: { code: "unauthorized" },
    });
    expect(await pub.request("moderate.delete", { room: "m:x", messageId: "m_1" })).toMatchObject({
      ok: false,
      error: { code: "unauthorized" },
    });
    pub.close();
  });

  it("deletes a message: subscribers on both gateways get message.deleted and history hides it", async () => {
    const room = "m:del";
    const mod = await connectTo(cluster, await issueToken(cluster, { clientId: "mod", role: "moderator" }), gw1);
    const sub1 = await connectTo(cluster, await issueToken(cluster), gw1);
    const sub2 = await connectTo(cluster, await issueToken(cluster), gw2);
    await sub1.request("subscribe", { room });
    await sub2.request("subscribe", { room, events: ["keep"] });
    const res = await publishHttp(cluster, room, { event: "keep", data: "bad words" });
    const { id, offset } = (await res.json()) as { id: string; offset: number };
    const kept = (await (await publishHttp(cluster, room, { event: "keep", data: "fine" })).json()) as { offset: number };
    await waitForOffset(sub2, room, kept.offset);
    expect(await mod.request("moderate.delete", { room, messageId: id })).toEqual({ type: "reply", id: 1, ok: true, result: {} });
    for (const s of [sub1, sub2])
      expect(await s.waitFor((f) => f.type === "message.deleted")).toEqual({ type: "message.deleted", room, id });
    const hist = (await mod.request("history", { room }))["result"] as { messages: Array<{ offset: number }> };
    expect(hist.messages.map((m) => m.offset)).toEqual([kept.offset]);
    expect(await mod.request("moderate.delete", { room, messageId: id })).toMatchObject({ ok: false, error: { code: "not_found" } });
    expect(await mod.request("moderate.delete", { room: "m:other", messageId: `m_${kept.offset.toString(36)}` })).toMatchObject({
      ok: false,
      error: { code: "not_found" },
    });
    // A resume from before the deleted message does not bring it back.
    const late = await connectTo(cluster, await issueToken(cluster), gw2);
    await late.request("subscribe", { room, since: { offset: offset - 1 } });
    await waitForOffset(late, room, kept.offset);
    expect(late.frames.filter((f) => f.type === "message").map((f) => f["offset"])).toEqual([kept.offset]);
    for (const s of [mod, sub1, sub2, late]) s.close();
  });

  it("disconnects a client on the other gateway with 4004, from a socket and from HTTP", async () => {
    const room = "m:kick";
    const mod = await connectTo(cluster, await issueToken(cluster, { clientId: "mod", role: "moderator" }), gw1);
    const erin = await connectTo(cluster, await issueToken(cluster, { clientId: "erin" }), gw2);
    const outside = await connectTo(cluster, await issueToken(cluster, { clientId: "erin" }), gw1);
    await erin.request("subscribe", { room });
    expect(await mod.request("moderate.disconnect", { room, clientId: "erin" })).toMatchObject({ ok: true, result: { affected: 1 } });
    expect((await erin.closed).code).toBe(4004);
    // The connection of erin that is not in the room stays.
    expect(await outside.request("ping")).toMatchObject({ ok: true });

    const frank = await connectTo(cluster, await issueToken(cluster, { clientId: "frank" }), gw1);
    await frank.request("presence.join", { room });
    const res = await fetch(`${cluster.url("publish-ingest")}/v1/rooms/${room}/disconnect`, {
      method: "POST",
      headers: { authorization: `Bearer ${cluster.devKey}`, "content-type": "application/json" },
      body: JSON.stringify({ connectionId: frank.connectionId }),
    });
    expect(res.status).toBeLessThan(300);
    expect(await res.json()).toEqual({ affected: 1 });
    expect((await frank.closed).code).toBe(4004);
    mod.close();
    outside.close();
  });
});
