/**
 * One room, every kind of client, against real services with two gateways: a native @switchboard/client socket on
 * the first gateway, an `amazon-ivs-chat-messaging` socket on the second, and publishes over HTTP (publish-ingest)
 * and through a vendor API (IVS SendEvent on auth). Each socket sees every message, its own included, once, in the
 * order of their offsets, with the same ids history returns. Moderation from each surface (a native moderator,
 * an IVS moderator socket, HTTP, the IVS control plane) reaches both kinds of socket, as each protocol's own push;
 * a native mute holds for an IVS chatter.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreateChatTokenCommand, CreateRoomCommand, DeleteMessageCommand, IvschatClient, SendEventCommand } from "@aws-sdk/client-ivschat";
import { DeleteMessageRequest, DisconnectUserRequest, SendMessageRequest, type ChatError } from "amazon-ivs-chat-messaging";
import { SwitchboardClient, type MessagePush, type SwitchboardError } from "@switchboard/client";
import type { ServiceHandle } from "@switchboard/dev";
import { issueToken, publishHttp, type Cluster } from "./helpers/cluster.js";
import { chatRoom, chatTokenOf, connected, type TestChatRoom } from "./helpers/ivschat.js";
import { ivsClient, startVendorCluster } from "./helpers/vendors.js";

let cluster: Cluster;
let gateway2: ServiceHandle;
let ivs: IvschatClient;
const closers: Array<() => void> = [];

beforeAll(async () => {
  cluster = await startVendorCluster();
  gateway2 = await cluster.add("fanout-gateway", "fanout-gateway-2");
  ivs = ivsClient(cluster, cluster.devKey, {}, "eu-west-1");
}, 180_000);

afterAll(async () => {
  for (const c of closers) c();
  await (cluster as Cluster | undefined)?.close();
});

/** Resolves once `cond` holds, checked whenever `poke` is called (from the clients' own events; no sleeping). */
function waiter() {
  const waits: Array<{ cond: () => boolean; resolve: () => void }> = [];
  return {
    poke: () => {
      for (const w of [...waits])
        if (w.cond()) {
          waits.splice(waits.indexOf(w), 1);
          w.resolve();
        }
    },
    until: (cond: () => boolean, what: string, ms = 10_000) =>
      cond()
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
            waits.push({
              cond,
              resolve: () => {
                clearTimeout(t);
                resolve();
              },
            });
          }),
  };
}

describe("one room across protocols", () => {
  it("delivers every message to every kind of socket once, in order, and moderation from any surface to all", async () => {
    const { id: room = "" } = await ivs.send(new CreateRoomCommand({ name: "everyone" }));
    const w = waiter();

    // A native client on gateway 1, a moderator of the room.
    const native = new SwitchboardClient({
      url: `ws://127.0.0.1:${cluster.services.get("fanout-gateway")?.port ?? 0}/v1/ws`,
      token: await issueToken(cluster, { clientId: "nat", role: "moderator", permissions: { [room]: ["*"] } }),
    });
    closers.push(() => native.close());
    const nativeSeen: MessagePush[] = [];
    const nativeDeleted: string[] = [];
    const nativeErrors: SwitchboardError[] = [];
    native.on("deleted", (d) => {
      nativeDeleted.push(d.id);
      w.poke();
    });
    native.on("error", (e) => {
      nativeErrors.push(e);
      w.poke();
    });
    await native.connect();
    await native.room(room).subscribe((m) => {
      nativeSeen.push(m);
      w.poke();
    });

    // IVS chat sockets on gateway 2: a chatter and a moderator.
    const url2 = `ws://127.0.0.1:${gateway2.port}`;
    const tokenFor = (userId: string, capabilities: Array<"SEND_MESSAGE" | "DELETE_MESSAGE" | "DISCONNECT_USER">) => async () => {
      const t = await ivs.send(new CreateChatTokenCommand({ roomIdentifier: room, userId, capabilities }));
      return chatTokenOf(t);
    };
    const chatter: TestChatRoom = chatRoom(url2, tokenFor("ivs-user", ["SEND_MESSAGE"]));
    const mod: TestChatRoom = chatRoom(url2, tokenFor("ivs-mod", ["SEND_MESSAGE", "DELETE_MESSAGE", "DISCONNECT_USER"]));
    for (const r of [chatter, mod]) {
      closers.push(() => r.room.disconnect());
      for (const ev of ["message", "event", "messageDelete", "userDisconnect", "disconnect"] as const)
        r.room.addListener(ev, () => w.poke());
      await connected(r);
    }
    const ivsIds = (r: TestChatRoom) =>
      r.seen.flatMap((s) => (s.kind === "message" ? [s.message.id] : s.kind === "event" ? [s.event.id] : []));

    // Messages from each surface, one after another.
    const n1 = await native.room(room).publish("message", { content: "from native" });
    const i1 = await chatter.room.sendMessage(new SendMessageRequest("from ivs", { lang: "en" }));
    const h1 = (await (await publishHttp(cluster, room, { event: "message", data: "from http", clientId: "server" })).json()) as {
      id: string;
    };
    const e1 = await ivs.send(new SendEventCommand({ roomIdentifier: room, eventName: "app:vote", attributes: { choice: "b" } }));
    const n2 = await native.room(room).publish("app:score", { a: 1 });
    const i2 = await mod.room.sendMessage(new SendMessageRequest("from the ivs moderator"));
    const order = [n1.id, i1.id, h1.id, e1.id ?? "", n2.id, i2.id];

    await w.until(() => nativeSeen.length >= 6 && ivsIds(chatter).length >= 6 && ivsIds(mod).length >= 6, "every message on every socket");
    expect(nativeSeen.map((m) => m.id)).toEqual(order);
    expect(nativeSeen.map((m) => m.offset)).toEqual([...nativeSeen.map((m) => m.offset)].sort((a, b) => a - b));
    expect(ivsIds(chatter)).toEqual(order);
    expect(ivsIds(mod)).toEqual(order);
    const history = await fetch(`${cluster.url("history")}/v1/rooms/${room}/messages?direction=forwards`, {
      headers: { authorization: `Bearer ${cluster.devKey}` },
    });
    expect(((await history.json()) as { messages: Array<{ id: string }> }).messages.map((m) => m.id)).toEqual(order);

    // Each protocol's view of the others' messages.
    expect(nativeSeen[1]).toMatchObject({
      event: "message",
      data: { content: "from ivs", attributes: { lang: "en" } },
      clientId: "ivs-user",
    });
    expect(nativeSeen[3]).toMatchObject({ event: "app:vote", data: { choice: "b" } });
    const chatterSaw = chatter.seen.flatMap((s) => (s.kind === "message" ? [s.message] : []));
    expect(chatterSaw.map((m) => [m.id, m.content, m.sender.userId])).toEqual([
      [n1.id, "from native", "nat"],
      [i1.id, "from ivs", "ivs-user"],
      [h1.id, "from http", "server"],
      [i2.id, "from the ivs moderator", "ivs-mod"],
    ]);
    const chatterEvents = chatter.seen.flatMap((s) => (s.kind === "event" ? [s.event] : []));
    expect(chatterEvents.map((e) => [e.id, e.eventName, e.attributes])).toEqual([
      [e1.id, "app:vote", { choice: "b" }],
      [n2.id, "app:score", { data: '{"a":1}' }],
    ]);

    // Deletes from four surfaces, each seen by both kinds of socket.
    const ivsDeleted = (r: TestChatRoom) => r.seen.flatMap((s) => (s.kind === "messageDelete" ? [s.event.messageId] : []));
    const deletedEverywhere = (id: string) => () =>
      nativeDeleted.includes(id) && ivsDeleted(chatter).includes(id) && ivsDeleted(mod).includes(id);
    await native.request("moderate.delete", { room, messageId: n1.id });
    await w.until(deletedEverywhere(n1.id), "the native moderator's delete");
    const byIvs = await mod.room.deleteMessage(new DeleteMessageRequest(i1.id, "off topic"));
    expect(byIvs).toMatchObject({ messageId: i1.id, reason: "off topic" });
    await w.until(deletedEverywhere(i1.id), "the IVS moderator's delete");
    const byHttp = await fetch(`${cluster.url("publish-ingest")}/v1/rooms/${room}/messages/${h1.id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${cluster.devKey}` },
    });
    expect(byHttp.status).toBe(200);
    await w.until(deletedEverywhere(h1.id), "the HTTP delete");
    await ivs.send(new DeleteMessageCommand({ roomIdentifier: room, id: e1.id ?? "", reason: "closed" }));
    await w.until(deletedEverywhere(e1.id ?? ""), "the IVS control plane's delete");
    expect(nativeDeleted).toEqual([n1.id, i1.id, h1.id, e1.id]);
    expect(ivsDeleted(chatter)).toEqual([n1.id, i1.id, h1.id, e1.id]);

    // A native moderator's mute holds for the IVS chatter too, until unmuted.
    expect(await native.request("moderate.mute", { room, clientId: "ivs-user" })).toEqual({ affected: 1 });
    const muted = await chatter.room.sendMessage(new SendMessageRequest("let me speak")).then(
      () => undefined,
      (e: unknown) => e as ChatError,
    );
    expect(muted).toMatchObject({
      errorCode: 403,
      errorMessage: `you are muted in room ${room} by a moderator; publish refused until unmuted`,
    });
    await native.request("moderate.unmute", { room, clientId: "ivs-user" });
    await chatter.room.sendMessage(new SendMessageRequest("thanks"));

    // Disconnects: an HTTP disconnect of the IVS chatter, an IVS moderator's disconnect of the native client.
    const kick = await fetch(`${cluster.url("publish-ingest")}/v1/rooms/${room}/disconnect`, {
      method: "POST",
      headers: { authorization: `Bearer ${cluster.devKey}`, "content-type": "application/json" },
      body: JSON.stringify({ clientId: "ivs-user", reason: "timeout" }),
    });
    expect(kick.status).toBe(200);
    await w.until(() => chatter.seen.some((s) => s.kind === "disconnect"), "the chatter's disconnect");
    expect(chatter.seen.find((s) => s.kind === "userDisconnect")).toMatchObject({ event: { userId: "ivs-user", reason: "timeout" } });
    expect(mod.seen.find((s) => s.kind === "userDisconnect")).toMatchObject({ event: { userId: "ivs-user" } });
    const natKick = await mod.room.disconnectUser(new DisconnectUserRequest("nat", "enough"));
    expect(natKick.userId).toBe("nat");
    await w.until(() => nativeErrors.length > 0, "the native client's disconnect");
    expect(nativeErrors[0]?.message).toBe("the gateway closed the connection (4004: enough)");
    expect(native.state).toBe("disconnected");
    expect(mod.room.state).toBe("connected");
  });
});
