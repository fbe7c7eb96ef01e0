/**
 * Helpers for the gateway tests: tokens signed locally with the cluster's dev key (for exact exp/sessionExp), a
 * socket that resolves once `connected`, a NATS client for direct JetStream access, and offset collection.
 */
import { signToken, type PermissionMap, type TokenClaims } from "@switchboard/protocol";
import { connectNats, createLogger, jetstream, jetstreamManager, type NatsConnection } from "@switchboard/core";
import type { ServiceHandle } from "@switchboard/dev";
import type { ClientOptions } from "ws";
import type { Cluster, Services } from "./cluster.js";
import { openSocket, type Frame, type TestSocket } from "./ws.js";

let jtiSeq = 0;

/** A token signed with the dev key; `expiresIn` seconds from now (default 600). */
export async function signLocal(
  cluster: Services,
  claims: {
    clientId?: string;
    permissions?: PermissionMap;
    expiresIn?: number;
    sessionExp?: number;
    attributes?: Record<string, string>;
    data?: string;
  } = {},
): Promise<string> {
  const [appKey, secret] = cluster.devKey.split(/:(.*)/s) as [string, string];
  const [appId, keyId] = appKey.split(".") as [string, string];
  const now = Math.floor(Date.now() / 1000);
  const { expiresIn = 600, permissions = { "*": ["*"] }, ...rest } = claims;
  const c: TokenClaims = {
    aud: "switchboard",
    iat: now,
    exp: now + expiresIn,
    jti: `gwtest-${process.pid}-${++jtiSeq}`,
    permissions,
    ...rest,
  };
  return signToken(c, { appId, keyId, secret });
}

export interface Connected extends TestSocket {
  connected: Frame;
  connectionId: string;
}

/** Opens a socket on a gateway (the cluster's default one unless given) and waits for `connected`. */
export async function connectTo(
  cluster: Services,
  token: string,
  gateway?: ServiceHandle,
  options: ClientOptions = {},
): Promise<Connected> {
  const sock = openSocket(cluster.wsUrl(token, gateway), options);
  const connected = await sock.waitFor((f) => f.type === "connected", 10_000, "connected");
  return Object.assign(sock, { connected, connectionId: connected["connectionId"] as string });
}

/** Offsets of the message pushes of `room` received so far, in arrival order. */
export function offsetsOf(sock: TestSocket, room: string): number[] {
  return sock.frames.filter((f) => f.type === "message" && f["room"] === room).map((f) => f["offset"] as number);
}

export function waitForOffset(sock: TestSocket, room: string, offset: number, timeoutMs = 10_000): Promise<Frame> {
  return sock.waitFor(
    (f) => f.type === "message" && f["room"] === room && f["offset"] === offset,
    timeoutMs,
    `offset ${offset} in ${room}`,
  );
}

export async function natsClient(cluster: Cluster): Promise<NatsConnection> {
  return connectNats(
    { servers: [cluster.nats.url], name: "gateway-test", log: createLogger("gateway-test", "silent") },
    new AbortController().signal,
  );
}

export { jetstream, jetstreamManager };

/** A metric's value from a gateway's /metrics: the first series of `name` whose labels contain `label` (0 if none). */
export async function metricValue(gateway: ServiceHandle, name: string, label = ""): Promise<number> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
    if (label !== "" && !line.includes(label)) continue;
    return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return 0;
}
