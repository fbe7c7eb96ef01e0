/**
 * Slow clients cannot hold a gateway's sockets (docs/SECURITY.md, "Network"): a WebSocket handshake whose headers
 * never end, or arrive one line a second, is closed by the gateway within uWebSockets.js's idle timeout (about 10 s),
 * while a normal socket connects meanwhile. Slow HTTP bodies on the HTTP services are libs/http's 408 (its test).
 */
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueToken, startCluster, type Cluster } from "./helpers/cluster.js";
import { connectTo } from "./helpers/gateway.js";

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ services: ["auth", "publish-ingest", "fanout-gateway"] });
});
afterAll(async () => {
  await cluster?.close();
});

/** Opens a raw TCP connection to the gateway; resolves with the ms from open to the server's close. */
function slowHandshake(port: number, drip: boolean): { closedAfter: Promise<number>; socket: Socket } {
  const started = Date.now();
  let timer: ReturnType<typeof setInterval> | undefined;
  const socket = connect(port, "127.0.0.1", () => {
    socket.write("GET /v1/ws?token=x HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    if (drip) timer = setInterval(() => socket.write(`X-Drip-${Date.now()}: 1\r\n`), 1000);
  });
  socket.on("error", () => undefined);
  const closedAfter = new Promise<number>((resolve) =>
    socket.on("close", () => {
      clearInterval(timer);
      resolve(Date.now() - started);
    }),
  );
  return { closedAfter, socket };
}

describe("slow WebSocket handshakes", () => {
  it("closes a handshake that never finishes and one that drips a header a second, within 15 s", async () => {
    const port = cluster.services.get("fanout-gateway")!.port;
    const stalled = slowHandshake(port, false);
    const dripping = slowHandshake(port, true);
    // Meanwhile a real client connects and is served.
    const sock = await connectTo(cluster, await issueToken(cluster, { clientId: "ok" }));
    expect(await sock.request("ping")).toMatchObject({ ok: true });
    const [a, b] = await Promise.all([stalled.closedAfter, dripping.closedAfter]);
    expect(a).toBeLessThan(15_000);
    expect(b).toBeLessThan(15_000);
    expect(await sock.request("ping")).toMatchObject({ ok: true });
    sock.close();
  }, 30_000);
});
