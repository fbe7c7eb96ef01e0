/** Process behaviour of every service: config validated at boot (exit 2 naming the variable), SIGTERM drain. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloseCode } from "@switchboard/protocol";
import { startService, type ServiceName } from "@switchboard/dev";
import { issueToken, startCluster, type Cluster } from "./helpers/cluster.js";
import { openSocket } from "./helpers/ws.js";

const SERVICES: ServiceName[] = ["auth", "publish-ingest", "history", "fanout-gateway"];

describe("config validation at boot", () => {
  for (const name of SERVICES) {
    it(`${name} exits 2 naming PORT when it is not a number`, async () => {
      const svc = await startService(name, { env: { PORT: "eighty" } });
      expect(await svc.exited).toBe(2);
      expect(svc.output()).toContain("PORT");
      expect(svc.output()).toContain("expected an integer");
    });
  }

  it("names SWITCHBOARD_MASTER_KEY when it is not 32 bytes", async () => {
    const svc = await startService("publish-ingest", { env: { SWITCHBOARD_MASTER_KEY: "short" } });
    expect(await svc.exited).toBe(2);
    expect(svc.output()).toContain("SWITCHBOARD_MASTER_KEY");
  });

  it("refuses to start without SWITCHBOARD_MASTER_KEY when NODE_ENV=production (the built-in key is public)", async () => {
    const svc = await startService("auth", { env: { SWITCHBOARD_MASTER_KEY: "", NODE_ENV: "production" } });
    expect(await svc.exited).toBe(2);
    expect(svc.output()).toContain("SWITCHBOARD_MASTER_KEY: is required when NODE_ENV=production");
  });

  it("names NATS_URL when it is not a NATS URL", async () => {
    const svc = await startService("history", { env: { NATS_URL: "http://x y" } });
    expect(await svc.exited).toBe(2);
    expect(svc.output()).toContain("NATS_URL");
  });
});

describe("SIGTERM", () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it("gateway closes sockets with 1012 and exits 0 within 10 s; the log never holds the token", async () => {
    const token = await issueToken(cluster, { clientId: "carol" });
    const sock = openSocket(cluster.wsUrl(token));
    await sock.waitFor((f) => f.type === "connected");
    const gw = cluster.services.get("fanout-gateway")!;
    const started = Date.now();
    const [code, close] = await Promise.all([gw.stop(), sock.closed]);
    expect(close.code).toBe(CloseCode.SERVER_RESTARTING);
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(gw.output()).not.toContain(token);
    expect(gw.output()).not.toContain(cluster.devKey.split(":")[1]);
    // No Node warning from start to stop (a MaxListenersExceededWarning on the stop signal was printed before).
    expect(gw.output()).not.toMatch(/\(node:\d+\) \w*Warning/);
  });

  it("HTTP services exit 0 within 10 s", async () => {
    for (const name of ["auth", "publish-ingest", "history"]) {
      const svc = cluster.services.get(name)!;
      const started = Date.now();
      expect(await svc.stop()).toBe(0);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(svc.output()).not.toContain(cluster.devKey.split(":")[1]);
      expect(svc.output()).not.toMatch(/\(node:\d+\) \w*Warning/);
    }
  });
});
