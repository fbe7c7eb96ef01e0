/**
 * The images, run (docs/OPERATIONS.md; `npm run test:containers`, too slow for `npm test`): builds the four service images
 * with the container engine (podman on CI: deploy/docker/base-image.sh makes the Node 20 base from Debian packages,
 * since no image registry is reachable), starts NATS and the four services as containers on the host's loopback
 * through testcontainers, and drives the end-to-end path through them: token → socket → publish → push → history.
 * Then the faults an operator must be able to read: a bad env value exits 2 naming the variable, an unreachable
 * NATS keeps the container up, logging it and answering 503 on /readyz, and a stopped gateway drains with 1012.
 * Containers run with the Kubernetes manifests' constraints: read-only root filesystem, all capabilities dropped.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ephemeralEnv, freePort } from "@switchboard/dev";
import { openEngine } from "./engine.js";
import { openSocket } from "../helpers/ws.js";

const engine = await openEngine();
if (!engine.ok) console.warn(`container tests skipped: ${engine.reason}`);

const { GenericContainer, StartupCheckStrategy, Wait, getContainerRuntimeClient } = await import("testcontainers");
type Started = Awaited<ReturnType<InstanceType<typeof GenericContainer>["start"]>>;

const SERVICES = ["auth", "publish-ingest", "history", "fanout-gateway"] as const;
type Service = (typeof SERVICES)[number];
const TAG = process.env.SWITCHBOARD_IMAGE_TAG ?? (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version;

/** Ready once the container has exited, whatever its code: for containers that must refuse to start. */
class ExitedStrategy extends StartupCheckStrategy {
  override async checkStartupState(docker: import("dockerode"), id: string): Promise<"PENDING" | "SUCCESS"> {
    const info = await docker.getContainer(id).inspect();
    return info.State.Running ? "PENDING" : "SUCCESS";
  }
}

/** A service container as Kubernetes runs it: read-only root filesystem, no capabilities, on the host's loopback. */
class ServiceContainer extends GenericContainer {
  readonly output: string[] = [];
  constructor(image: string, env: Record<string, string>) {
    super(image);
    this.hostConfig.ReadonlyRootfs = true;
    this.withNetworkMode("host")
      .withDroppedCapabilities("ALL")
      .withEnvironment({ HOST: "127.0.0.1", ...env })
      .withLogConsumer((stream) => stream.on("data", (chunk: Buffer | string) => this.output.push(chunk.toString())))
      .withStartupTimeout(120_000);
  }
  logs(): string {
    return this.output.join("");
  }
}

/** Runs a command (its stderr to the test's), resolves with its stdout; asynchronous so vitest's worker stays responsive. */
async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const started = Date.now();
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", resolve);
  });
  if (code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${String(code)})`);
  if (Date.now() - started > 10_000) console.log(`${cmd} ${args.join(" ")}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return out;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch {
      // not answering yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const status = async (url: string): Promise<number> => (await fetch(url)).status;

describe.skipIf(!engine.ok)("service images in containers", () => {
  let baseImage = "";
  const image = (svc: Service) => (engine.ok ? engine.localName(`switchboard/${svc}:${TAG}`) : "");
  const started: Started[] = [];
  const ports = {} as Record<Service, number>;
  const running = {} as Record<Service, Started>;
  let natsUrl = "";
  let devKey = "";
  let env: Record<string, string> = {};

  beforeAll(async () => {
    // Images: a base from Debian packages for podman (no registry), unless BASE_IMAGE names one; then the four targets.
    baseImage =
      process.env.BASE_IMAGE ?? (engine.ok && engine.kind === "podman" ? (await run("bash", ["deploy/docker/base-image.sh"])).trim() : "");
    await run("bash", ["deploy/docker/images.sh"], { SWITCHBOARD_IMAGE_TAG: TAG, ...(baseImage !== "" ? { BASE_IMAGE: baseImage } : {}) });

    // NATS with JetStream, from the base image (it carries Debian's nats-server), on a free loopback port.
    const natsPort = await freePort();
    const nats = await new GenericContainer(process.env.SWITCHBOARD_NATS_IMAGE ?? baseImage)
      .withNetworkMode("host")
      .withCommand(["nats-server", "-a", "127.0.0.1", "-p", String(natsPort), "-js", "-sd", "/tmp/jetstream"])
      .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
      .start();
    started.push(nats);
    natsUrl = `nats://127.0.0.1:${natsPort}`;

    const fresh = ephemeralEnv(natsUrl);
    devKey = fresh.devKey;
    env = { ...fresh.env, LOG_LEVEL: "info" };
    for (const svc of SERVICES) {
      ports[svc] = await freePort();
      running[svc] = await new ServiceContainer(image(svc), { ...env, PORT: String(ports[svc]) })
        .withWaitStrategy(Wait.forLogMessage(/listening/i))
        .start();
      started.push(running[svc]);
    }
    for (const svc of SERVICES)
      await until(`${svc} /readyz`, async () => ((await status(`http://127.0.0.1:${ports[svc]}/readyz`)) === 200 ? true : undefined));
  }, 30 * 60_000);

  afterAll(async () => {
    for (const c of started.reverse()) await c.stop({ timeout: 5_000 }).catch(() => undefined);
    if (engine.ok) await engine.close();
  }, 120_000);

  const url = (svc: Service, path: string) => `http://127.0.0.1:${ports[svc]}${path}`;

  it("token → socket → publish → push → history, through the four containers", async () => {
    const tokenRes = await fetch(url("auth", "/v1/tokens"), {
      method: "POST",
      headers: { authorization: `Bearer ${devKey}`, "content-type": "application/json" },
      body: JSON.stringify({ clientId: "container-user" }),
    });
    expect(tokenRes.status).toBe(201);
    const { token } = (await tokenRes.json()) as { token: string };

    const sock = openSocket(`ws://127.0.0.1:${ports["fanout-gateway"]}/v1/ws?token=${encodeURIComponent(token)}`);
    await sock.waitFor((f) => f.type === "connected", 15_000, "connected");
    const sub = await sock.request("subscribe", { room: "containers:lobby" }, 15_000);
    expect(sub.ok).toBe(true);

    const pub = await fetch(url("publish-ingest", "/v1/rooms/containers:lobby/messages"), {
      method: "POST",
      headers: { authorization: `Bearer ${devKey}`, "content-type": "application/json" },
      body: JSON.stringify({ event: "greeting", data: { text: "hello from a container" } }),
    });
    expect(pub.status).toBe(201);
    const { id, offset } = (await pub.json()) as { id: string; offset: number };
    expect(id).toMatch(/^m_/);

    const push = await sock.waitFor((f) => f.type === "message" && f.id === id, 15_000, "the pushed message");
    expect(push).toMatchObject({ room: "containers:lobby", id, offset, event: "greeting", data: { text: "hello from a container" } });

    const hist = await fetch(url("history", "/v1/rooms/containers:lobby/messages"), { headers: { authorization: `Bearer ${devKey}` } });
    expect(hist.status).toBe(200);
    const page = (await hist.json()) as { messages: { id: string; offset: number; event: string }[] };
    expect(page.messages.map((m) => [m.id, m.offset, m.event])).toEqual([[id, offset, "greeting"]]);
    sock.close();
  });

  it("images run as user 10001 and their HEALTHCHECK passes against /healthz", async () => {
    // The image config through the engine's CLI: podman's Docker-compatible API leaves Healthcheck out of it.
    const cli = engine.ok ? engine.kind : "docker";
    for (const svc of SERVICES) {
      const [user, healthcheck] = (
        await run(cli, ["image", "inspect", "--format", "{{.Config.User}}|{{json .Config.Healthcheck}}", image(svc)])
      )
        .trim()
        .split("|");
      expect(user, svc).toBe("10001:10001");
      const test = (JSON.parse(healthcheck ?? "null") as { Test?: string[] } | null)?.Test ?? [];
      expect(test[0], svc).toBe("CMD");
      expect(test.join(" "), svc).toMatch(/\/healthz/);
      const exec = await running[svc].exec(test.slice(1));
      expect(exec.exitCode, `${svc}: ${exec.output}`).toBe(0);
    }
  });

  it("without SWITCHBOARD_MASTER_KEY the image (NODE_ENV=production) exits 2 naming it", async () => {
    const bare = new ServiceContainer(image("auth"), { NATS_URL: natsUrl, PORT: String(await freePort()) }).withWaitStrategy(
      new ExitedStrategy(),
    );
    const c = await bare.start();
    const client = await getContainerRuntimeClient();
    const info = await client.container.inspect(client.container.getById(c.getId()));
    await c.stop().catch(() => undefined);
    expect(info.State.ExitCode).toBe(2);
    expect(bare.logs()).toMatch(/SWITCHBOARD_MASTER_KEY: is required when NODE_ENV=production/);
  });

  it("a bad env value: the container exits 2 with a message naming the variable", async () => {
    const bad = new ServiceContainer(image("publish-ingest"), {
      NATS_URL: natsUrl,
      PORT: String(await freePort()),
      // The images run with NODE_ENV=production, where a master key is required: give one so REPLICAS is the fault.
      SWITCHBOARD_MASTER_KEY: env["SWITCHBOARD_MASTER_KEY"] ?? "",
      SWITCHBOARD_REPLICAS: "seven",
    }).withWaitStrategy(new ExitedStrategy());
    const c = await bad.start();
    const client = await getContainerRuntimeClient();
    const info = await client.container.inspect(client.container.getById(c.getId()));
    await c.stop().catch(() => undefined);
    expect(info.State.ExitCode).toBe(2);
    expect(bad.logs()).toMatch(/invalid configuration: SWITCHBOARD_REPLICAS: expected an integer, got "seven"/);
  });

  it("unreachable NATS: the container stays up, logs it, is alive on /healthz and answers 503 on /readyz", async () => {
    const port = await freePort();
    const deadNats = `nats://127.0.0.1:${await freePort()}`;
    const lonely = new ServiceContainer(image("history"), {
      NATS_URL: deadNats,
      PORT: String(port),
      SWITCHBOARD_MASTER_KEY: env["SWITCHBOARD_MASTER_KEY"] ?? "",
    }).withWaitStrategy(Wait.forLogMessage(/cannot reach NATS yet/));
    const c = await lonely.start();
    try {
      expect(await status(`http://127.0.0.1:${port}/healthz`)).toBe(200);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { error: { code: string } }).error.code).toBe("unavailable");
      const client = await getContainerRuntimeClient();
      expect((await client.container.inspect(client.container.getById(c.getId()))).State.Running).toBe(true);
      expect(lonely.logs()).toContain(deadNats.replace("nats://", ""));
    } finally {
      await c.stop({ timeout: 5_000 });
    }
  });

  it("a stopped gateway drains: its sockets are closed with 1012 and the container exits 0", async () => {
    const port = await freePort();
    const gw = new ServiceContainer(image("fanout-gateway"), { ...env, PORT: String(port) });
    const c = await gw.withWaitStrategy(Wait.forLogMessage(/listening/i)).start();
    await until("second gateway /readyz", async () => ((await status(`http://127.0.0.1:${port}/readyz`)) === 200 ? true : undefined));
    const tokenRes = await fetch(url("auth", "/v1/tokens"), {
      method: "POST",
      headers: { authorization: `Bearer ${devKey}`, "content-type": "application/json" },
      body: JSON.stringify({ clientId: "drained" }),
    });
    const { token } = (await tokenRes.json()) as { token: string };
    const sock = openSocket(`ws://127.0.0.1:${port}/v1/ws?token=${encodeURIComponent(token)}`);
    await sock.waitFor((f) => f.type === "connected", 15_000, "connected");
    const client = await getContainerRuntimeClient();
    const handle = client.container.getById(c.getId());
    await client.container.stop(handle, { timeout: 15_000 }); // milliseconds: SIGTERM, then SIGKILL after 15 s
    expect((await sock.closed).code).toBe(1012);
    expect((await client.container.inspect(handle)).State.ExitCode).toBe(0);
    await c.stop().catch(() => undefined);
  });
});
