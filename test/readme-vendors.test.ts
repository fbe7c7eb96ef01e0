/**
 * The README's "Moving from OpenVidu / OpenTok / IVS Chat" section is true: each of its JavaScript snippets is taken
 * from README.md as it is, written as a `.mjs` file at the repository root (so its imports resolve as a reader's
 * would) and run with `node` and KEY = the cluster's API key, against real services. Only the launcher's fixed
 * ports (auth 8081, gateway 8080) are replaced by this cluster's; each snippet must exit 0 and print exactly what
 * it prints against `npm start`.
 */
import { execFile } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Cluster } from "./helpers/cluster.js";
import { startVendorCluster } from "./helpers/vendors.js";

const ROOT = join(import.meta.dirname, "..");
const SECTION = "## Moving from OpenVidu / OpenTok / IVS Chat";

/** The ```js blocks of the section, in order. */
function snippets(): string[] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const start = readme.indexOf(SECTION);
  expect(start).toBeGreaterThan(0);
  const end = readme.indexOf("\n## ", start + SECTION.length);
  const section = readme.slice(start, end);
  return [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
}

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startVendorCluster();
}, 180_000);

afterAll(async () => {
  await (cluster as Cluster | undefined)?.close();
});

function run(name: string, code: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const gateway = `ws://127.0.0.1:${cluster.services.get("fanout-gateway")?.port ?? 0}`;
  const source = code.replaceAll("http://127.0.0.1:8081", cluster.url("auth")).replaceAll("ws://127.0.0.1:8080", gateway);
  const file = join(ROOT, `.readme-${name}-${process.pid}.mjs`);
  writeFileSync(file, source);
  return new Promise((resolve) => {
    execFile("node", [file], { cwd: ROOT, env: { ...process.env, KEY: cluster.devKey }, timeout: 30_000 }, (err, stdout, stderr) => {
      rmSync(file, { force: true });
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : 1, stdout, stderr });
    });
  });
}

describe("README: moving from OpenVidu / OpenTok / IVS Chat", () => {
  it("has the three snippets", () => {
    expect(snippets().map((s) => /from "([^"]+)"/.exec(s)?.[1])).toEqual(["openvidu-node-client", "opentok", "@aws-sdk/client-ivschat"]);
  });

  it("OpenVidu: the connection's token connects, with its id, and forceDisconnect closes it", async () => {
    const r = await run("openvidu", snippets()[0] ?? "");
    expect(r.stderr).toBe("");
    // The client itself logs the force-disconnect, at a moment of its own: compare the lines as a set.
    const lines = (out: string) =>
      out
        .replace(/con_[A-Za-z0-9_-]+/g, "con_…")
        .trimEnd()
        .split("\n")
        .sort();
    const expected = [
      "connectionId is the connection's id: true",
      "message: chat hello alice",
      "closed: 4004",
      "Connection 'con_…' closed",
    ];
    expect(lines(r.stdout)).toEqual(expected.sort());
    expect(r.code).toBe(0);
    // It leaves nothing behind, so it can run again. Closing a session revokes the tokens issued up to that second
    // (token times are whole seconds), so a re-created session's tokens work from the next second: wait for it.
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 50));
    const again = await run("openvidu", snippets()[0] ?? "");
    expect(lines(again.stdout)).toEqual(expected);
  });

  it("OpenTok: the SDK's own token connects, a signal arrives, forceDisconnect closes it", async () => {
    const r = await run("opentok", snippets()[1] ?? "");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("signal: chat hello\nclosed: 4004\n");
    expect(r.code).toBe(0);
  });

  it("IVS Chat: the chat client connects to the gateway and its message is confirmed", async () => {
    const r = await run("ivschat", snippets()[2] ?? "");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("sent: hello { mood: 'happy' } by alice\n");
    expect(r.code).toBe(0);
  });
});
