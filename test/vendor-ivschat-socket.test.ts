/**
 * IVS chat WebSocket drop-in: the real, unmodified `amazon-ivs-chat-messaging` 1.1 client (with `ws` as its global
 * WebSocket) against real services, its URL the gateway's `ws://host:port` and its tokens from the real
 * @aws-sdk/client-ivschat's CreateChatToken on auth. Messages persist (history shows them with the same ids) and
 * reach every IVS socket once; moderation from a socket and from the control plane reaches them as the client's own
 * events, and resolves the moderator's promise; the room's length and rate limits (also when changed while sockets
 * are open), missing capabilities and bad tokens give the errors the client surfaces; the token refresh (a second
 * connection before expiry, or an expired token's ERROR 401) keeps the room connected; sockets are counted by
 * protocol.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CreateChatTokenCommand,
  CreateRoomCommand,
  DeleteMessageCommand,
  DisconnectUserCommand,
  IvschatClient,
  SendEventCommand,
  UpdateRoomCommand,
  type ChatTokenCapability,
} from "@aws-sdk/client-ivschat";
import { DeleteMessageRequest, DisconnectUserRequest, SendMessageRequest, type ChatError } from "amazon-ivs-chat-messaging";
import type { Cluster } from "./helpers/cluster.js";
import { issueToken, publishHttp } from "./helpers/cluster.js";
import { chatRoom, chatTokenOf, connected, type ChatToken, type TestChatRoom } from "./helpers/ivschat.js";
import { ivsClient, startVendorCluster } from "./helpers/vendors.js";

let cluster: Cluster;
let ivs: IvschatClient;
let gatewayUrl: string;
const rooms: TestChatRoom[] = [];

beforeAll(async () => {
  cluster = await startVendorCluster();
  ivs = ivsClient(cluster, cluster.devKey);
  gatewayUrl = `ws://127.0.0.1:${cluster.services.get("fanout-gateway")?.port ?? 0}`;
}, 180_000);

afterAll(async () => {
  for (const r of rooms) r.room.disconnect();
  await (cluster as Cluster | undefined)?.close();
});

async function chatToken(
  roomIdentifier: string,
  userId: string,
  capabilities: ChatTokenCapability[] = [],
  attributes?: Record<string, string>,
): Promise<ChatToken> {
  const t = await ivs.send(
    new CreateChatTokenCommand({ roomIdentifier, userId, capabilities, ...(attributes !== undefined ? { attributes } : {}) }),
  );
  return chatTokenOf(t);
}

/** A connected ChatRoom whose provider mints a fresh chat token each time it is asked. */
async function join(
  roomIdentifier: string,
  userId: string,
  capabilities: ChatTokenCapability[] = [],
  attributes?: Record<string, string>,
): Promise<TestChatRoom> {
  const r = chatRoom(gatewayUrl, () => chatToken(roomIdentifier, userId, capabilities, attributes));
  rooms.push(r);
  await connected(r);
  return r;
}

async function refusal(p: Promise<unknown>): Promise<ChatError> {
  try {
    await p;
  } catch (err) {
    return err as ChatError;
  }
  throw new Error("expected the request to be refused");
}

async function historyOf(room: string): Promise<Array<Record<string, unknown>>> {
  const res = await fetch(`${cluster.url("history")}/v1/rooms/${room}/messages?direction=forwards`, {
    headers: { authorization: `Bearer ${cluster.devKey}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { messages: Array<Record<string, unknown>> }).messages;
}

/** Polls `cond` (state kept by the client itself, which emits nothing for it) until true or `ms` pass. */
async function until(cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

async function gatewayMetric(line: string): Promise<string | undefined> {
  const text = await (await fetch(`${cluster.url("fanout-gateway")}/metrics`)).text();
  return text.split("\n").find((l) => l.startsWith(line));
}

describe("amazon-ivs-chat-messaging against the Switchboard gateway", () => {
  it("sends, receives and persists messages and events, once each, with the client's own promises resolved", async () => {
    const { id: room = "" } = await ivs.send(new CreateRoomCommand({ name: "happy" }));
    const alice = await join(room, "alice", ["SEND_MESSAGE"], { displayName: "Alice" });
    const bob = await join(room, "bob", ["SEND_MESSAGE"]);

    const sent = await alice.room.sendMessage(new SendMessageRequest("hello", { color: "blue" }));
    expect(sent).toMatchObject({
      content: "hello",
      attributes: { color: "blue" },
      sender: { userId: "alice", attributes: { displayName: "Alice" } },
    });
    expect(sent.id).toMatch(/^m_/);
    expect(sent.requestId).toBeDefined();
    const atBob = await bob.waitFor("message", (r) => r.message.id === sent.id);
    expect(atBob.message).toMatchObject({
      content: "hello",
      attributes: { color: "blue" },
      sender: { userId: "alice" },
      requestId: undefined,
    });
    expect(atBob.message.sendTime.getTime()).toBe(sent.sendTime.getTime());
    const reply = await bob.room.sendMessage(new SendMessageRequest("hi alice"));
    await alice.waitFor("message", (r) => r.message.id === reply.id);

    // Other surfaces: an HTTP publish of event "message" is a MESSAGE with no sender; any other event is an EVENT.
    const http = await publishHttp(cluster, room, { event: "message", data: "from the server" });
    expect(http.status).toBe(201);
    const httpId = ((await http.json()) as { id: string }).id;
    expect((await bob.waitFor("message", (r) => r.message.id === httpId)).message).toMatchObject({
      content: "from the server",
      sender: { userId: "" },
    });
    const ev = await ivs.send(new SendEventCommand({ roomIdentifier: room, eventName: "app:poll", attributes: { q: "lunch?" } }));
    expect((await alice.waitFor("event", (r) => r.event.id === ev.id)).event).toMatchObject({
      eventName: "app:poll",
      attributes: { q: "lunch?" },
    });

    // Stored like any message, with the same ids (offsets), in order.
    const stored = await historyOf(room);
    expect(stored.map((m) => [m["id"], m["event"], m["data"], m["clientId"]])).toEqual([
      [sent.id, "message", { content: "hello", attributes: { color: "blue" } }, "alice"],
      [reply.id, "message", { content: "hi alice" }, "bob"],
      [httpId, "message", "from the server", undefined],
      [ev.id, "app:poll", { q: "lunch?" }, undefined],
    ]);
    // Each socket saw each message once, in offset order.
    for (const r of [alice, bob]) {
      const ids = r.seen.flatMap((s) => (s.kind === "message" ? [s.message.id] : s.kind === "event" ? [s.event.id] : []));
      expect(ids).toEqual([sent.id, reply.id, httpId, ev.id]);
    }
    expect(await gatewayMetric('switchboard_gateway_connections{protocol="ivs"')).toBe(
      'switchboard_gateway_connections{protocol="ivs",service="fanout-gateway"} 2',
    );
  });

  it("delivers deletes and disconnects from a moderator socket and from the control plane", async () => {
    const { id: room = "" } = await ivs.send(new CreateRoomCommand({ name: "moderated" }));
    const mod = await join(room, "mod", ["SEND_MESSAGE", "DELETE_MESSAGE", "DISCONNECT_USER"]);
    const alice = await join(room, "alice", ["SEND_MESSAGE"]);
    const carol = await join(room, "carol", ["SEND_MESSAGE"]);
    const first = await alice.room.sendMessage(new SendMessageRequest("rude words"));
    const second = await alice.room.sendMessage(new SendMessageRequest("more rude words"));

    const del = await mod.room.deleteMessage(new DeleteMessageRequest(first.id, "rude"));
    expect(del).toMatchObject({ messageId: first.id, reason: "rude" });
    expect(del.requestId).toBeDefined();
    expect((await alice.waitFor("messageDelete", (r) => r.event.messageId === first.id)).event).toMatchObject({
      id: del.id,
      reason: "rude",
      requestId: undefined,
    });
    const viaApi = await ivs.send(new DeleteMessageCommand({ roomIdentifier: room, id: second.id, reason: "also rude" }));
    expect((await alice.waitFor("messageDelete", (r) => r.event.messageId === second.id)).event).toMatchObject({
      id: viaApi.id,
      reason: "also rude",
    });
    expect((await historyOf(room)).map((m) => m["id"])).toEqual([]);

    const kicked = await mod.room.disconnectUser(new DisconnectUserRequest("alice", "spam"));
    expect(kicked).toMatchObject({ userId: "alice", reason: "spam" });
    expect((await alice.waitFor("userDisconnect")).event).toMatchObject({ userId: "alice", reason: "spam" });
    expect((await carol.waitFor("userDisconnect")).event).toMatchObject({ id: kicked.id, userId: "alice" });
    // A clean close (4004): the client does not reconnect.
    expect((await alice.waitFor("disconnect")).reason).toBe("serverDisconnect");
    expect(alice.provided).toBe(1);

    await ivs.send(new DisconnectUserCommand({ roomIdentifier: room, userId: "carol", reason: "bye" }));
    expect((await carol.waitFor("userDisconnect", (r) => r.event.userId === "carol")).event.reason).toBe("bye");
    expect((await carol.waitFor("disconnect")).reason).toBe("serverDisconnect");
    expect(mod.room.state).toBe("connected");
  });

  it("refuses what the token or the room does not allow with the client's ChatError codes", async () => {
    const { id: room = "", arn = "" } = await ivs.send(new CreateRoomCommand({ maximumMessageLength: 10, maximumMessageRatePerSecond: 2 }));
    const reader = await join(room, "reader");
    const writer = await join(room, "writer", ["SEND_MESSAGE"]);

    const noCap = await refusal(reader.room.sendMessage(new SendMessageRequest("hi")));
    expect(noCap).toMatchObject({ errorCode: 403, errorMessage: `your token lacks the publish capability on room ${room}` });
    const notMod = await refusal(writer.room.deleteMessage(new DeleteMessageRequest("m_1")));
    expect(notMod.errorCode).toBe(403);
    expect((await refusal(writer.room.disconnectUser(new DisconnectUserRequest("reader")))).errorCode).toBe(403);
    const long = await refusal(writer.room.sendMessage(new SendMessageRequest("x".repeat(11))));
    expect(long).toMatchObject({ errorCode: 400, errorMessage: "Content is 11 characters; this room's maximumMessageLength is 10" });
    // Characters, not bytes or UTF-16 units: ten emoji fit.
    await writer.room.sendMessage(new SendMessageRequest("😀".repeat(10)));
    // The room's rate (2/s, burst 2; one token spent above, refilling): of 4 at once, at least one is refused.
    const burst = await Promise.allSettled([1, 2, 3, 4].map((i) => writer.room.sendMessage(new SendMessageRequest(`m${i}`))));
    const refused = burst.filter((b) => b.status === "rejected").map((b) => (b.reason as ChatError).errorCode);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(new Set(refused)).toEqual(new Set([429]));

    // A room change reaches sockets already open.
    await ivs.send(new UpdateRoomCommand({ identifier: arn, maximumMessageLength: 3 }));
    const deadline = Date.now() + 5000;
    let code = 0;
    while (code !== 400 && Date.now() < deadline) {
      code = await writer.room.sendMessage(new SendMessageRequest("four")).then(
        () => 0,
        (e: unknown) => (e as ChatError).errorCode,
      );
      if (code === 429) await new Promise((r) => setTimeout(r, 500)); // the rate bucket refills in 0.5 s
    }
    expect(code).toBe(400);

    // A deleted message's id that is not stored in this room.
    const mod = await join(room, "mod", ["DELETE_MESSAGE"]);
    expect((await refusal(mod.room.deleteMessage(new DeleteMessageRequest("m_zzzzzz")))).errorCode).toBe(404);
  });

  it("delivers what is stored as soon as the client sees the socket open (it joins its room after the upgrade)", async () => {
    const { id: room = "" } = await ivs.send(new CreateRoomCommand({}));
    // Five sockets; each publishes over HTTP the moment its client says "connect". A socket must get its own message
    // and every one stored after it.
    const stored = new Map<number, { id: string; offset: number }>();
    const joined = [1, 2, 3, 4, 5].map((i) => {
      const r = chatRoom(gatewayUrl, () => chatToken(room, `early-${i}`));
      rooms.push(r);
      r.room.addListener("connect", () => {
        void publishHttp(cluster, room, { event: "message", data: `hello ${i}` }).then(async (res) => {
          stored.set(i, (await res.json()) as { id: string; offset: number });
        });
      });
      r.room.connect();
      return r;
    });
    await until(() => stored.size === 5, 10_000);
    const all = [...stored.values()];
    for (const [n, r] of joined.entries()) {
      const own = stored.get(n + 1)?.offset ?? 0;
      for (const m of all.filter((x) => x.offset >= own)) await r.waitFor("message", (x) => x.message.id === m.id);
    }
  });

  it("closes a socket whose token is invalid or names no single room, without the client retrying", async () => {
    const { id: room = "" } = await ivs.send(new CreateRoomCommand({}));
    const good = await chatToken(room, "u");
    const bad = chatRoom(gatewayUrl, () => Promise.resolve({ ...good, token: `${good.token}x` }));
    rooms.push(bad);
    bad.room.connect();
    expect((await bad.waitFor("disconnect")).reason).toBe("serverDisconnect");
    expect(bad.provided).toBe(1);
    // A native token for every room is not an IVS chat token.
    const wide = chatRoom(gatewayUrl, async () => ({ token: await issueToken(cluster, { clientId: "w" }) }));
    rooms.push(wide);
    wide.room.connect();
    expect((await wide.waitFor("disconnect")).reason).toBe("serverDisconnect");
    expect(wide.room.state).toBe("disconnected");
  });

  it("keeps the room connected across token refreshes: the early second connection, and an expired token", async () => {
    const { id: room = "" } = await ivs.send(new CreateRoomCommand({}));
    const speaker = await join(room, "speaker", ["SEND_MESSAGE"]);
    // The client opens its next connection 30 s before a short token's expiry: say the token ends in 31 s.
    const early = chatRoom(gatewayUrl, async () => ({
      ...(await chatToken(room, "early")),
      tokenExpirationTime: new Date(Date.now() + 31_000),
    }));
    rooms.push(early);
    await connected(early);
    await until(() => early.provided >= 2 && early.room.state === "connected", 10_000);
    expect(early.provided).toBeGreaterThanOrEqual(2);

    // A token that really expires: the gateway says ERROR 401 before it closes, and the client reconnects.
    let n = 0;
    const expiring = chatRoom(gatewayUrl, async () =>
      n++ === 0
        ? { token: await issueToken(cluster, { clientId: "exp", expiresIn: 2, permissions: { [room]: ["subscribe"] } }) }
        : chatToken(room, "exp"),
    );
    rooms.push(expiring);
    await connected(expiring);
    await expiring.waitFor("connecting", undefined, 10_000);
    await until(() => expiring.seen.filter((s) => s.kind === "connect").length === 2, 10_000);
    expect(expiring.provided).toBe(2);
    expect(expiring.room.state).toBe("connected");

    const m = await speaker.room.sendMessage(new SendMessageRequest("after refresh"));
    for (const r of [early, expiring]) await r.waitFor("message", (x) => x.message.id === m.id);
    expect(early.seen.filter((s) => s.kind === "message" && s.message.id === m.id)).toHaveLength(1);
    expect(early.room.state).toBe("connected");
  }, 30_000);
});
