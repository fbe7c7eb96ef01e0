/**
 * @switchboard/client in Node (over the `ws` package) against a real cluster: connect with an offline token,
 * messages with exact ids and offsets, history paging both ways, Livestorm scopes, token refresh before expiry,
 * and a gateway killed mid-stream: the client reconnects and resumes so the app sees every offset once, in order.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SwitchboardClient, SwitchboardError, type MessagePush, type ConnectionState } from "@switchboard/client";
import { Switchboard, type TokenOptions } from "@switchboard/server";
import { startService, waitReady } from "@switchboard/dev";
import { startCluster, type Cluster } from "./helpers/cluster.js";

let cluster: Cluster;
let sb: Switchboard;
const clients: SwitchboardClient[] = [];

beforeAll(async () => {
  cluster = await startCluster();
  sb = new Switchboard({ apiKey: cluster.devKey, authUrl: cluster.url("auth"), ingestUrl: cluster.url("publish-ingest") });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await cluster?.close();
});

function gatewayUrl(): string {
  return `ws://127.0.0.1:${cluster.services.get("fanout-gateway")!.port}/v1/ws`;
}

async function newClient(
  opts: TokenOptions = { clientId: "c" },
  extra: { getToken?: () => Promise<string> } = {},
): Promise<SwitchboardClient> {
  const client =
    extra.getToken !== undefined
      ? new SwitchboardClient({ url: gatewayUrl(), getToken: extra.getToken })
      : new SwitchboardClient({ url: gatewayUrl(), token: (await sb.generateTokenResponse(opts)).token });
  clients.push(client);
  return client;
}

/** Resolves when `pred` holds over the collected items, checked at every push (no sleeping). */
function collector<T>() {
  const items: T[] = [];
  let waiter: { pred: (xs: T[]) => boolean; resolve: () => void } | undefined;
  return {
    items,
    push(x: T) {
      items.push(x);
      if (waiter?.pred(items)) waiter.resolve();
    },
    until(pred: (xs: T[]) => boolean, timeoutMs = 20_000): Promise<void> {
      if (pred(items)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out; have ${JSON.stringify(items).slice(0, 1500)}`)), timeoutMs);
        waiter = {
          pred,
          resolve: () => {
            clearTimeout(t);
            resolve();
          },
        };
      });
    },
  };
}

describe("connect and messages", () => {
  it("connects with an offline token and reports its states", async () => {
    const client = await newClient({ clientId: 5 });
    const states: ConnectionState[] = [];
    client.on("state", (s) => states.push(s));
    expect(client.state).toBe("disconnected");
    await client.connect();
    expect(states).toEqual(["connecting", "connected"]);
    expect(client.clientId).toBe("5");
    expect(typeof client.connectionId).toBe("string");
    client.close();
    expect(client.state).toBe("closed");
    expect(states).toEqual(["connecting", "connected", "closed"]);
  });

  it("hands a room handler HTTP and socket publishes with their exact id and offset; an event filter applies", async () => {
    const client = await newClient({ clientId: "alice" });
    await client.connect();
    const room = client.room("sdk:chat");
    const all = collector<MessagePush>();
    const onlyB: MessagePush[] = [];
    const sub = await room.subscribe((m) => all.push(m));
    expect(sub).toEqual({ room: "sdk:chat", offset: sub.offset, recovered: false });
    await room.subscribe("b", (m) => onlyB.push(m));

    const a = await sb.publish("sdk:chat", "a", { n: 1 });
    const b = await room.publish("b", { n: 2 });
    expect(b).toEqual({ id: `m_${(a.offset + 1).toString(36)}`, offset: a.offset + 1 });
    await all.until((xs) => xs.length === 2);
    expect(all.items.map((m) => [m.id, m.offset, m.event, m.data])).toEqual([
      [a.id, a.offset, "a", { n: 1 }],
      [b.id, b.offset, "b", { n: 2 }],
    ]);
    expect(all.items[1]!.clientId).toBe("alice");
    expect(onlyB.map((m) => m.offset)).toEqual([b.offset]);
    expect(room.offset).toBe(b.offset);

    await room.unsubscribe();
    expect(room.offset).toBe(undefined);
  });

  it("rejects a subscribe the token does not allow with the gateway's code", async () => {
    const client = await newClient({ clientId: "r", permissions: { "only:*": ["subscribe"] } });
    await client.connect();
    const err = await client
      .room("other")
      .subscribe(() => undefined)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwitchboardError);
    expect(err).toMatchObject({ code: "unauthorized" });
    expect(() => client.room("bad room")).toThrowError(/invalid room name/);
  });
});

describe("history", () => {
  it("pages backwards and forwards with next() until null", async () => {
    const offsets: number[] = [];
    for (let i = 1; i <= 5; i++) offsets.push((await sb.publish("sdk:hist", "n", i)).offset);
    const client = await newClient({ clientId: "h" });
    await client.connect();
    const room = client.room("sdk:hist");

    const pages: number[][] = [];
    let page = await room.history.get({ limit: 2 });
    for (;;) {
      pages.push(page.items.map((m) => m.offset));
      const next = await page.next();
      if (next === null) break;
      page = next;
    }
    expect(pages).toEqual([[offsets[4], offsets[3]], [offsets[2], offsets[1]], [offsets[0]]]);
    expect(page.items[0]!.data).toBe(1);

    const forwards: number[][] = [];
    let fwd: Awaited<ReturnType<typeof room.history.get>> | null = await room.history.get({ limit: 2, direction: "forwards" });
    while (fwd !== null) {
      forwards.push(fwd.items.map((m) => m.offset));
      fwd = await fwd.next();
    }
    expect(forwards).toEqual([[offsets[0], offsets[1]], [offsets[2], offsets[3]], [offsets[4]]]);
  });
});

describe("presence and occupancy", () => {
  it("joins, lists and hears members", async () => {
    const alice = await newClient({ clientId: "p-alice" });
    const bob = await newClient({ clientId: "p-bob" });
    await Promise.all([alice.connect(), bob.connect()]);
    const heard = collector<string>();
    await alice.room("sdk:pres").presence.subscribe((p) => heard.push(`${p.action}:${p.member.clientId}`));
    await bob.room("sdk:pres").presence.join({ mood: "ok" });
    await heard.until((xs) => xs.includes("join:p-bob"));
    const members = await alice.room("sdk:pres").presence.get();
    expect(members.map((m) => [m.clientId, m.data])).toEqual([["p-bob", { mood: "ok" }]]);
    expect(await alice.room("sdk:pres").occupancy()).toMatchObject({ presenceMembers: 1 });
    await bob.room("sdk:pres").presence.leave();
    await heard.until((xs) => xs.includes("leave:p-bob"));
  });
});

describe("Livestorm-style pubsub helper", () => {
  it("hears organization, event and session scopes and hands the callback the event's data", async () => {
    const client = await newClient({ clientId: "ls" });
    await client.connect();
    const got = collector<unknown>();
    await client.pubsub({ eventId: "E7", sessionId: "S7" }).subscribe("poll", (data) => got.push(data));
    await sb.pubsub.publish({ scope: { type: "organization" }, payload: { event: { eventName: "poll", data: "org" } } });
    await sb.pubsub.publish({ scope: { type: "event", event_id: "E7" }, payload: { event: { eventName: "poll", data: "event" } } });
    await sb.pubsub.publish({ scope: { type: "event", event_id: "E8" }, payload: { event: { eventName: "poll", data: "other event" } } });
    await sb.pubsub.publish({
      scope: { type: "session", event_id: "E7", session_id: "S7" },
      payload: { event: { eventName: "poll", data: "session" } },
    });
    await sb.pubsub.publish({
      scope: { type: "session", event_id: "E7", session_id: "S7" },
      payload: { event: { eventName: "other", data: "x" } },
    });
    await got.until((xs) => xs.length === 3);
    expect(got.items).toEqual(["org", "event", "session"]);
  });
});

describe("token refresh", () => {
  it("asks getToken() for a new token on token.expiring and refreshes the open connection", async () => {
    const calls: number[] = [];
    const getToken = async () => {
      calls.push(Date.now());
      // The first token expires in 31 s, so the gateway's token.expiring (30 s before) comes at once.
      return (await sb.generateTokenResponse({ clientId: "rf", expiresIn: calls.length === 1 ? 31 : 900 })).token;
    };
    const client = await newClient(undefined, { getToken });
    const refreshed = new Promise<number>((resolve) => client.on("refreshed", resolve));
    await client.connect();
    const firstExpiry = client.expiresAt!;
    const expiresAt = await refreshed;
    expect(calls).toHaveLength(2);
    expect(expiresAt).toBeGreaterThan(firstExpiry + 800_000);
    expect(client.expiresAt).toBe(expiresAt);
    expect(client.state).toBe("connected");
  });
});

describe("reconnect and resume", () => {
  it("resumes every room from its last offset after the gateway is killed: each offset once, in order", async () => {
    const client = await newClient({ clientId: "resumer", expiresIn: 3600 });
    const states: ConnectionState[] = [];
    client.on("state", (s) => states.push(s));
    await client.connect();
    const got = collector<number>();
    await client.room("sdk:resume").subscribe((m) => got.push(m.offset));

    const published: number[] = [];
    const publishSome = async (n: number) => {
      for (let i = 0; i < n; i++) published.push((await sb.publish("sdk:resume", "tick", published.length)).offset);
    };
    await publishSome(10);
    await got.until((xs) => xs.length === 10);

    // Kill the gateway while messages keep coming, then start a new one on the same port.
    const old = cluster.services.get("fanout-gateway")!;
    const killed = old.kill();
    await publishSome(10);
    await killed;
    await publishSome(10);
    const gw = await startService("fanout-gateway", { port: old.port, env: cluster.env });
    cluster.services.set("fanout-gateway", gw);
    await waitReady(gw, 30_000);
    await publishSome(10);

    await got.until((xs) => xs.length >= published.length && xs[xs.length - 1] === published[published.length - 1], 45_000);
    expect(got.items).toEqual(published);
    expect(states.slice(0, 3)).toEqual(["connecting", "connected", "reconnecting"]);
    expect(client.state).toBe("connected");
  }, 90_000);
});
