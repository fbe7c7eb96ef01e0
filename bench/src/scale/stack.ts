/**
 * What the scale benchmark runs against, all on 127.0.0.1 and tied to this process: its own nats-server, auth and
 * publish-ingest (they provision the dev key and the rooms stream with its republish), fanout-gateway processes and
 * bare uWS baselines (bare.ts). Also: tokens signed in-process (HMAC over the canonical header and payload, the same
 * bytes as libs/protocol signToken), the publisher (messages stored straight into JetStream, as ingest does, each
 * carrying its send time as `"t"` for the latency), and CPU and memory of a process from /proc.
 */
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { tokenHeader, tokenPayload, type PermissionMap } from "@switchboard/protocol";
import { Subjects, connectNats, createLogger, encodeBody, jetstream, type NatsConnection } from "@switchboard/core";
import {
  ephemeralEnv,
  spawnTied,
  startNatsServer,
  startService,
  waitReady,
  type NatsServerHandle,
  type ServiceHandle,
} from "@switchboard/dev";

export const APP = "bench";
const now = (): number => performance.timeOrigin + performance.now();

/** RSS of a process in bytes, from /proc (Linux); NaN when unknown. */
export function rssBytes(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

export interface Server {
  name: string;
  port: number;
  pid: number;
  /** The `?token=` query for the gateway ("" for bare). */
  kind: "gateway" | "bare" | "bare-hmac";
  stop(): Promise<void>;
}

export class Stack {
  private services: ServiceHandle[] = [];
  private bares: Array<ReturnType<typeof spawnTied>> = [];
  nc!: NatsConnection;
  env!: Record<string, string>;
  private secret = "";
  private kid = "";

  private constructor(readonly nats: NatsServerHandle) {}

  static async start(): Promise<Stack> {
    const s = new Stack(await startNatsServer());
    const { env, devKey } = ephemeralEnv(s.nats.url, APP);
    s.env = env;
    const [appKey, secret] = devKey.split(/:(.*)/s) as [string, string];
    s.secret = secret;
    s.kid = appKey;
    for (const name of ["auth", "publish-ingest"] as const) s.services.push(await startService(name, { env }));
    await Promise.all(s.services.map((x) => waitReady(x)));
    s.nc = await connectNats({ servers: [s.nats.url], name: "bench", log: createLogger("bench", "silent") }, new AbortController().signal);
    return s;
  }

  /** A fanout-gateway process on its own port; `env` adds to the stack's environment. */
  async gateway(env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<Server> {
    const g = await startService("fanout-gateway", { env: { ...this.env, ...env }, nodeArgs });
    this.services.push(g);
    await waitReady(g);
    return { name: "gateway", kind: "gateway", port: g.port, pid: g.process.pid ?? -1, stop: () => g.stop().then(() => undefined) };
  }

  /** The bare uWS baseline; `verifying` adds an upgrade handler that checks each token's signature (bare.ts). */
  async bare(verifying = false): Promise<Server> {
    const file = fileURLToPath(new URL("./bare.js", import.meta.url));
    const p = spawnTied(process.execPath, [file, this.nats.url, APP], {
      env: verifying ? { ...process.env, BARE_HMAC_SECRET: this.secret } : process.env,
    });
    this.bares.push(p);
    p.stderr.pipe(process.stderr);
    const port = await new Promise<number>((resolve, reject) => {
      p.stdout.on("data", (d: Buffer) => {
        const m = /port (\d+)/.exec(d.toString());
        if (m) resolve(Number(m[1]));
      });
      p.once("exit", (code) => reject(new Error(`bare server exited with ${code}`)));
    });
    return {
      name: verifying ? "bare + HMAC" : "bare uWS",
      kind: verifying ? "bare-hmac" : "bare",
      port,
      pid: p.pid ?? -1,
      stop: () =>
        new Promise((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) resolve();
          else {
            p.once("exit", () => resolve());
            p.kill("SIGKILL");
          }
        }),
    };
  }

  /** A token for this stack's app, signed in-process (HS256 over the canonical header and payload). */
  token(opts: { jti: string; clientId?: string; permissions?: PermissionMap; ttlS?: number }): string {
    const iat = Math.floor(Date.now() / 1000);
    const claims = {
      aud: "switchboard" as const,
      iat,
      exp: iat + (opts.ttlS ?? 3600),
      jti: opts.jti,
      permissions: opts.permissions ?? { "*": ["*"] },
      ...(opts.clientId !== undefined ? { clientId: opts.clientId } : {}),
    };
    const input = `${Buffer.from(JSON.stringify(tokenHeader(this.kid))).toString("base64url")}.${Buffer.from(
      JSON.stringify(tokenPayload(claims)),
    ).toString("base64url")}`;
    return `${input}.${createHmac("sha256", this.secret).update(input).digest("base64url")}`;
  }

  /** The upgrade path for a server: the gateway's /v1/ws with a token, or the bare server's root. */
  path(server: Server, token: string): string {
    if (server.kind === "bare") return "/";
    return `${server.kind === "gateway" ? "/v1/ws" : "/"}?token=${encodeURIComponent(token)}`;
  }

  async stop(): Promise<void> {
    for (const b of this.bares) b.kill("SIGKILL");
    await this.nc.close().catch(() => undefined);
    await Promise.all(this.services.map((s) => s.kill()));
    await this.nats.dispose();
  }
}

/**
 * Stores `count` messages into JetStream for `rooms` (round robin), `ratePerS` paced (send times on a fixed
 * schedule) or as fast as acks come back with `window` in flight. Each message's data is ~100 bytes with the send time.
 */
export async function publish(
  nc: NatsConnection,
  opts: { prefix: string; rooms: number; count: number; ratePerS?: number; window?: number },
): Promise<{ seconds: number }> {
  const js = jetstream(nc);
  const pad = "x".repeat(60);
  const inflight = new Set<Promise<unknown>>();
  const window = opts.window ?? 256;
  const start = now();
  for (let i = 0; i < opts.count; i++) {
    if (opts.ratePerS !== undefined) {
      const wait = start + (i * 1000) / opts.ratePerS - now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const subject = Subjects.room(APP, `${opts.prefix}${i % opts.rooms}`);
    const body = encodeBody({ event: "tick", dataJson: `{"t":${now().toFixed(3)},"x":"${pad}"}`, timestamp: Date.now() });
    const p = js.publish(subject, body);
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
    if (inflight.size >= window) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  return { seconds: (now() - start) / 1000 };
}
