/**
 * Request handlers with stubbed NATS services (HandlerContext) and a stub socket: publish (capability, mutes, rate
 * limit, the stored body and idempotency key) and subscribe/unsubscribe (the per-socket room limit, topics joined
 * and left, the hub reference released). Through real sockets and servers they are tested in test/gateway-*.test.ts.
 */
import { describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { EffectivePermissions, Permissions, SwitchboardError, type PermissionMap } from "@switchboard/protocol";
import { Subjects, createLogger, createRegistry, type AckPublishOptions, type VerifiedToken } from "@switchboard/core";
import { nativeAdapter } from "../adapters/native.js";
import { newConn, type Conn, type Socket } from "../connection.js";
import { RoomHub } from "../hub.js";
import { createGatewayMetrics } from "../metrics.js";
import type { HandlerContext } from "./context.js";
import { handlers } from "./index.js";

function conn(permissions: PermissionMap, limits: Partial<Conn["limits"]> = {}): Conn & { topics: Set<string> } {
  const topics = new Set<string>();
  const c = newConn({
    id: "c1",
    appId: "app",
    kid: "k1",
    claims: { aud: "switchboard", iat: 0, exp: 2_000_000_000, jti: "j", clientId: "alice", permissions },
    permissions: new EffectivePermissions(new Permissions(permissions), undefined),
    limits: {
      maxRoomsPerSocket: 2,
      publishRate: 1,
      publishBurst: 2,
      maxOutboundBytes: 1 << 20,
      maxFrameBytes: 1 << 16,
      maxConnections: 10,
      origins: undefined,
      ...limits,
    },
    adapter: nativeAdapter,
  });
  const socket: Socket = {
    send: () => undefined,
    cork: (cb) => {
      cb();
    },
    subscribe: (t) => topics.add(t),
    unsubscribe: (t) => topics.delete(t),
    publish: () => true,
    getBufferedAmount: () => 0,
    end: () => undefined,
  };
  c.socket = socket;
  return Object.assign(c, { topics });
}

function context() {
  const published: Array<{ subject: string; body: string; opts: AckPublishOptions }> = [];
  const muted = new Set<string>();
  const nc = { subscribe: () => ({ unsubscribe: () => undefined }), flush: () => Promise.resolve() } as unknown as NatsConnection;
  const log = createLogger("handlers-test", "silent");
  const unused = () => Promise.reject(new Error("not used by this test"));
  const hub = new RoomHub({
    nc,
    log,
    deliver: () => undefined,
    fetchRange: unused,
    fetchAfter: unused,
    onDelivered: () => undefined,
    onGap: () => undefined,
  });
  const ctx: HandlerContext = {
    log,
    metrics: createGatewayMetrics(createRegistry("handlers-test")),
    hub,
    presence: { enter: unused, leave: unused, members: unused, watch: () => undefined, unwatch: () => undefined },
    history: { page: unused, forwards: unused, range: unused },
    offsets: { last: () => Promise.resolve(41), first: () => Promise.resolve(1) },
    publisher: {
      publish: (subject, body, opts) => {
        published.push({ subject, body, opts });
        return Promise.resolve({ seq: 42, duplicate: false });
      },
      close: () => undefined,
    },
    mutes: { has: (app, room, clientId) => muted.has(`${app}/${room}/${clientId}`), persist: unused },
    moderation: { command: unused, deleteMessage: unused },
    occupancy: unused,
    verify: (): Promise<VerifiedToken> => unused(),
    send: () => undefined,
    armTimers: () => undefined,
  };
  return { ctx, published, muted, hub };
}

async function codeOf(p: unknown): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (err) {
    return err instanceof SwitchboardError ? err.code : String(err);
  }
}

describe("publish handler", () => {
  it("stores the message with the sender's clientId and idempotency key, and answers its id and offset", async () => {
    const { ctx, published } = context();
    const c = conn({ "chat:*": ["publish"] });
    const result = await handlers.publish(ctx, c, {
      type: "publish",
      id: 1,
      room: "chat:1",
      event: "msg",
      data: { t: "hi" },
      idempotencyKey: "k",
    });
    expect(result).toEqual({ id: "m_16", offset: 42 });
    expect(published.length).toBe(1);
    expect(published[0]?.subject).toBe(Subjects.room("app", "chat:1"));
    expect(published[0]?.opts.msgID).toBe("app:k");
    expect(JSON.parse(published[0]?.body ?? "")).toMatchObject({ event: "msg", data: { t: "hi" }, clientId: "alice" });
  });

  it("refuses without the capability, while muted, and over the rate", async () => {
    const { ctx, muted, published } = context();
    const req = { type: "publish", id: 1, room: "chat:1", event: "msg", data: null } as const;
    expect(await codeOf(handlers.publish(ctx, conn({ "chat:*": ["subscribe"] }), req))).toBe("unauthorized");
    muted.add("app/chat:1/alice");
    expect(await codeOf(handlers.publish(ctx, conn({ "chat:*": ["publish"] }), req))).toBe("muted");
    muted.clear();
    const c = conn({ "chat:*": ["publish"] });
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push(await codeOf(handlers.publish(ctx, c, req)));
    expect(codes).toEqual(["ok", "ok", "rate_limited"]);
    expect(published.length).toBe(2);
  });
});

describe("subscribe and unsubscribe handlers", () => {
  it("joins the room's topic at its current end, and leaves it and the hub on unsubscribe", async () => {
    const { ctx, hub } = context();
    const c = conn({ "*": ["subscribe"] });
    expect(await handlers.subscribe(ctx, c, { type: "subscribe", id: 1, room: "r1" })).toEqual({
      room: "r1",
      offset: 41,
      recovered: false,
    });
    const room = hub.get("app", "r1");
    expect(room?.subscribers).toBe(1);
    expect([...c.topics]).toEqual([room?.key]);
    expect(c.subs.has("r1")).toBe(true);
    expect(handlers.unsubscribe(ctx, c, { type: "unsubscribe", id: 2, room: "r1" })).toEqual({});
    expect(c.topics.size).toBe(0);
    expect(hub.size).toBe(0);
    expect(await codeOf(Promise.resolve().then(() => handlers.unsubscribe(ctx, c, { type: "unsubscribe", id: 3, room: "r1" })))).toBe(
      "not_subscribed",
    );
  });

  it("holds a socket to its room limit and refuses rooms its token does not grant", async () => {
    const { ctx, hub } = context();
    const c = conn({ "r:*": ["subscribe"] });
    await handlers.subscribe(ctx, c, { type: "subscribe", id: 1, room: "r:1" });
    await handlers.subscribe(ctx, c, { type: "subscribe", id: 2, room: "r:2" });
    expect(await codeOf(handlers.subscribe(ctx, c, { type: "subscribe", id: 3, room: "r:3" }))).toBe("rate_limited");
    expect(await codeOf(handlers.subscribe(ctx, c, { type: "subscribe", id: 4, room: "x" }))).toBe("unauthorized");
    expect(hub.size).toBe(2);
  });
});
