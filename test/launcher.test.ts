/**
 * The dev launcher behind `npm start` (docs/CONFIG.md): embedded nats-server, four services, URLs and dev key printed,
 * a message end to end with the printed key, and a clean stop on Ctrl-C (SIGINT); a one-line error and exit 1
 * when no nats-server can be found.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT, freePort, spawnTied } from "@switchboard/dev";

const LAUNCHER = join(REPO_ROOT, "deploy", "dev", "dist", "main.js");
const dataDir = mkdtempSync(join(tmpdir(), "sb-launcher-"));

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function run(env: Record<string, string>) {
  const { NATS_URL: _ignored, SWITCHBOARD_DEV_KEY: _k, SWITCHBOARD_MASTER_KEY: _m, SWITCHBOARD_ADMIN_TOKEN: _a, ...base } = process.env;
  const proc = spawnTied(process.execPath, [LAUNCHER], {
    env: { ...base, SWITCHBOARD_DATA_DIR: dataDir, ...env },
  });
  let out = "";
  let err = "";
  proc.stdout.on("data", (c: Buffer) => (out += c.toString()));
  proc.stderr.on("data", (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((res) => proc.once("exit", (code) => res(code)));
  return { proc, out: () => out, err: () => err, exited };
}

describe("npm start launcher", () => {
  it("exits 1 with one line saying how to get nats-server when none is found", async () => {
    const l = run({ NATS_SERVER_BIN: "/nonexistent/nats-server" });
    expect(await l.exited).toBe(1);
    const lines = l.err().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^switchboard: NATS_SERVER_BIN=\/nonexistent\/nats-server is not an executable file/);
  });

  it("starts everything, prints URLs and a working dev key, and stops cleanly on SIGINT", async () => {
    const [gw, auth, ingest, history] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const l = run({
      SWITCHBOARD_GATEWAY_PORT: String(gw),
      SWITCHBOARD_AUTH_PORT: String(auth),
      SWITCHBOARD_INGEST_PORT: String(ingest),
      SWITCHBOARD_HISTORY_PORT: String(history),
      LOG_LEVEL: "warn",
    });
    try {
      const deadline = Date.now() + 45_000;
      while (!l.out().includes("Press Ctrl-C to stop.") && Date.now() < deadline) {
        if (l.proc.exitCode !== null) throw new Error(`launcher exited early:\n${l.out()}\n${l.err()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const out = l.out();
      expect(out).toContain(`gateway   ws://127.0.0.1:${gw}/v1/ws`);
      expect(out).toContain(`auth      http://127.0.0.1:${auth}`);
      expect(out).toContain(`ingest    http://127.0.0.1:${ingest}`);
      expect(out).toContain(`history   http://127.0.0.1:${history}`);
      const key = /dev API key:\s+(\S+)/.exec(out)?.[1];
      expect(key).toMatch(/^dev\.devkey:[A-Za-z0-9_-]{43}$/);
      const res = await fetch(`http://127.0.0.1:${ingest}/v1/rooms/launcher/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ event: "hello", data: 1 }),
      });
      expect(res.status).toBe(201);
      expect(await res.json()).toEqual({ id: "m_1", offset: 1 });
    } finally {
      l.proc.kill("SIGINT");
    }
    expect(await l.exited).toBe(0);
    // Every child is gone: the ports are free again.
    for (const port of [gw, auth, ingest, history]) {
      await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    }
  }, 90_000);
});
