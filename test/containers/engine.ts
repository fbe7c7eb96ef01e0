/**
 * The container engine for the container tests, reached the way testcontainers reaches Docker: through a
 * Docker-compatible API socket. With podman (what CI has), `podman system service` serves that API on a socket in a
 * temporary directory for the duration of the run; DOCKER_HOST points testcontainers at it and Ryuk (testcontainers'
 * reaper container, which would have to be pulled from a registry) is off, so the tests remove their own containers.
 * Where neither podman nor a Docker socket works, `openEngine` says why and the tests are skipped with that message.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type Engine =
  | {
      ok: true;
      kind: "podman" | "docker";
      /** Image names as the engine stores local builds. */ localName(name: string): string;
      close(): Promise<void>;
    }
  | { ok: false; reason: string };

function which(cmd: string): string | undefined {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** GET /_ping on the API socket: "OK" once the engine answers. */
function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: "/_ping", timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

export async function openEngine(): Promise<Engine> {
  process.env.TESTCONTAINERS_RYUK_DISABLED = "true";
  const podman = which("podman");
  if (podman !== undefined && process.env.DOCKER_HOST === undefined) {
    const info = spawnSync(podman, ["info", "--format", "{{.Host.OCIRuntime.Name}}"], { encoding: "utf8" });
    if (info.status !== 0) return { ok: false, reason: `podman is installed but \`podman info\` fails: ${info.stderr.trim()}` };
    const dir = mkdtempSync(join(tmpdir(), "sb-podman-"));
    const socket = join(dir, "podman.sock");
    const service: ChildProcess = spawn(podman, ["system", "service", "--time=0", `unix://${socket}`], { stdio: "ignore" });
    const deadline = Date.now() + 20_000;
    while (!(existsSync(socket) && (await ping(socket)))) {
      if (Date.now() > deadline || service.exitCode !== null) {
        service.kill("SIGKILL");
        rmSync(dir, { recursive: true, force: true });
        return { ok: false, reason: "`podman system service` did not answer on its socket within 20 s" };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    process.env.DOCKER_HOST = `unix://${socket}`;
    return {
      ok: true,
      kind: "podman",
      localName: (name) => `localhost/${name}`,
      close: async () => {
        const exited = new Promise((r) => service.once("exit", r));
        service.kill("SIGTERM");
        await exited;
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const dockerSocket = process.env.DOCKER_HOST?.replace(/^unix:\/\//, "") ?? "/var/run/docker.sock";
  if (existsSync(dockerSocket) && (await ping(dockerSocket)))
    return { ok: true, kind: "docker", localName: (name) => name, close: () => Promise.resolve() };
  return { ok: false, reason: "no container engine answers (install podman, or run a Docker engine and set DOCKER_HOST)" };
}
