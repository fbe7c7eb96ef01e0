/**
 * deploy/docker and deploy/compose.yaml, read as files (the container script, `npm run test:containers`, builds and
 * runs them): one Dockerfile target per service whose PORT is the service's default, and a compose file with a
 * 3-node JetStream cluster, SWITCHBOARD_REPLICAS=3 for every service, two gateways and no floating image tags.
 */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { DEFAULT_PORTS } from "@switchboard/core";

const PORTS: Record<string, number> = {
  auth: DEFAULT_PORTS.auth,
  "publish-ingest": DEFAULT_PORTS.ingest,
  history: DEFAULT_PORTS.history,
  "fanout-gateway": DEFAULT_PORTS.gateway,
};

const dockerfile = readFileSync("deploy/docker/Dockerfile", "utf8");

/** Each `FROM … AS name` stage with the instructions under it. */
function stages(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of dockerfile.replace(/\\\n/g, " ").split("\n")) {
    const from = /^FROM\s+\S+\s+AS\s+(\S+)/i.exec(line);
    if (from?.[1] !== undefined) out.set(from[1], (current = []));
    else if (current !== undefined && /^[A-Z]/.test(line)) current.push(line);
  }
  return out;
}

interface ComposeService {
  image?: string;
  build?: { target?: string };
  command?: string[];
  environment?: Record<string, string>;
  profiles?: string[];
  volumes?: string[];
}

describe("deploy/docker/Dockerfile", () => {
  it("has a target per service that copies only that service's tree, runs it from its dist/ and sets its default port", () => {
    const s = stages();
    for (const [svc, port] of Object.entries(PORTS)) {
      const lines = s.get(svc) ?? expect.fail(`no target ${svc}`);
      expect(lines, svc).toEqual([
        `COPY --from=build /out/${svc} /app`,
        `WORKDIR /app/services/${svc}`,
        `ENV PORT=${port}`,
        `EXPOSE ${port}`,
      ]);
    }
  });

  it("runs as a numeric non-root user with a health check on /healthz, on a Node 20 base given as a build argument", () => {
    const runtime = stages().get("runtime") ?? expect.fail("no runtime stage");
    expect(runtime).toContain("USER 10001:10001");
    expect(runtime.find((l) => l.startsWith("HEALTHCHECK"))).toMatch(/\/healthz/);
    expect(runtime).toContain('CMD ["node", "dist/main.js"]');
    expect(dockerfile).toMatch(/^ARG BASE_IMAGE=node:20-bookworm-slim$/m);
    expect(dockerfile.match(/^FROM \$\{BASE_IMAGE\}/gm)?.length).toBe(3);
  });

  it("builds with npm ci and tsc -b, and keeps build tools out of the final stages", () => {
    const build = stages().get("build") ?? expect.fail("no build stage");
    expect(build.join("\n")).toMatch(/npm ci /);
    expect(build.join("\n")).toMatch(/npx tsc -b services\/auth services\/publish-ingest services\/fanout-gateway services\/history/);
    for (const svc of Object.keys(PORTS))
      expect(
        (stages().get(svc) ?? []).some((l) => /npm|tsc/.test(l)),
        svc,
      ).toBe(false);
  });
});

describe("deploy/compose.yaml", () => {
  const compose = parse(readFileSync("deploy/compose.yaml", "utf8"), { merge: true }) as { services: Record<string, ComposeService> };
  const services = compose.services;

  it("runs a 3-node NATS JetStream cluster whose routes name the three nodes", () => {
    const nats = Object.keys(services).filter((n) => /^nats-\d$/.test(n));
    expect(nats).toEqual(["nats-1", "nats-2", "nats-3"]);
    const conf = readFileSync("deploy/nats/compose.conf", "utf8");
    expect(conf).toMatch(/jetstream\s*{[^}]*sync_interval: always/);
    expect(/routes: \[([^\]]*)\]/.exec(conf)?.[1]?.trim().split(/\s+/)).toEqual(nats.map((n) => `nats://${n}:6222`));
    for (const n of nats) {
      expect(services[n]?.environment?.NATS_NAME).toBe(n);
      expect(services[n]?.volumes?.slice(0, 2)).toEqual([
        "./nats/compose.conf:/etc/nats/nats.conf:ro",
        "./nats/users.conf:/etc/nats/users.conf:ro",
      ]);
      expect(Object.keys(services[n]?.environment ?? {}).filter((k) => k.endsWith("_PASSWORD"))).toHaveLength(5);
    }
    expect(conf).toMatch(/^include \.\/users\.conf$/m);
  });

  it("runs the four services (two gateways) against the cluster with SWITCHBOARD_REPLICAS=3", () => {
    const apps = Object.entries(services).filter(([, s]) => s.image?.startsWith("switchboard/"));
    expect(apps.map(([n]) => n).sort()).toEqual(["auth", "gateway-1", "gateway-2", "history", "publish-ingest"]);
    expect(apps.filter(([, s]) => s.image?.startsWith("switchboard/fanout-gateway:")).length).toBe(2);
    for (const [name, s] of apps) {
      expect(s.environment?.SWITCHBOARD_REPLICAS, name).toBe("3");
      expect(s.environment?.NATS_URL, name).toBe("nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222");
      if (s.build) expect(Object.keys(PORTS), name).toContain(s.build.target);
      // Its own NATS user (deploy/nats/users.conf), never a shared or anonymous connection.
      const service = s.image?.slice("switchboard/".length).split(":")[0];
      expect(s.environment?.NATS_USER, name).toBe(service);
      expect(s.environment?.NATS_PASSWORD, name).toMatch(/^\$\{SWITCHBOARD_NATS_[A-Z]+_PASSWORD\}$/);
    }
  });

  it("pins every image (no latest, no untagged)", () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.image, name).toMatch(/:[^/]+$/);
      expect(s.image, name).not.toMatch(/:latest$/);
    }
  });
});
