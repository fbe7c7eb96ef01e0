/**
 * deploy/prometheus and deploy/grafana (docs/OPERATIONS.md): promtool accepts the scrape config and the alert rules, every
 * alert has a firing and a quiet `promtool test rules` case and they pass, and every metric the rules and the Grafana
 * dashboard query is one the running services really expose on /metrics.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  SERVICES,
  ephemeralEnv,
  startNatsServer,
  startService,
  waitReady,
  type NatsServerHandle,
  type ServiceHandle,
} from "@switchboard/dev";

const PROMTOOL = ["/usr/bin/promtool", "/usr/local/bin/promtool"].find((p) => existsSync(p));
const DIR = "deploy/prometheus";

interface Rule {
  alert: string;
  expr: string;
}
const rules = (parse(readFileSync(`${DIR}/alerts.yml`, "utf8")) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

interface Panel {
  title: string;
  targets?: { expr: string }[];
}
const dashboard = JSON.parse(readFileSync("deploy/grafana/switchboard.json", "utf8")) as { panels: Panel[] };

function promtool(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync(PROMTOOL ?? "promtool", args, { encoding: "utf8" });
  return { status: r.status, out: r.stdout + r.stderr };
}

const PROMQL_WORDS = new Set([
  "by",
  "without",
  "and",
  "or",
  "unless",
  "offset",
  "bool",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "inf",
  "nan",
]);

/** The metric names a PromQL expression reads (label matchers, ranges, grouping clauses and functions left out). */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, "")
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, "");
  const names = [...bare.matchAll(/(?<![a-zA-Z0-9_:.])[a-zA-Z_:][a-zA-Z0-9_:]*(?![a-zA-Z0-9_:])(?!\s*\()/g)].map((m) => m[0]);
  return [...new Set(names.filter((n) => !PROMQL_WORDS.has(n.toLowerCase()) && !/^\d/.test(n)))];
}

describe.skipIf(PROMTOOL === undefined)("prometheus config and alert rules", () => {
  it("promtool check config and check rules accept them", () => {
    const config = promtool("check", "config", `${DIR}/prometheus.yml`);
    expect(config.out).toMatch(/SUCCESS: deploy\/prometheus\/prometheus.yml is valid/);
    expect(config.status).toBe(0);
    const check = promtool("check", "rules", `${DIR}/alerts.yml`);
    expect(check.out).toMatch(new RegExp(`SUCCESS: ${rules.length} rules found`));
    expect(check.status).toBe(0);
  });

  it("promtool test rules passes", () => {
    const r = promtool("test", "rules", `${DIR}/tests/alerts.test.yml`);
    expect(r.out).toMatch(/SUCCESS/);
    expect(r.status).toBe(0);
  });

  it("every alert has a firing case and a quiet case", () => {
    type Case = { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] };
    const tests = (parse(readFileSync(`${DIR}/tests/alerts.test.yml`, "utf8")) as { tests: Case[] }).tests.flatMap(
      (t) => t.alert_rule_test,
    );
    expect(rules.map((r) => r.alert)).toEqual([
      "SwitchboardGatewayDown",
      "SwitchboardNatsDown",
      "SwitchboardPublishToDeliverSlow",
      "SwitchboardIngestServerErrors",
      "SwitchboardIngestUnavailable",
      "SwitchboardSlowConsumerCloses",
      "SwitchboardJetStreamStoreFailures",
      "SwitchboardTokenVerifyFailureSpike",
      "SwitchboardGatewayFdsNearLimit",
      "SwitchboardNatsConnectionFlapping",
    ]);
    for (const { alert } of rules) {
      const cases = tests.filter((t) => t.alertname === alert);
      expect(
        cases.some((t) => t.exp_alerts.length > 0),
        `${alert} fires somewhere`,
      ).toBe(true);
      expect(
        cases.some((t) => t.exp_alerts.length === 0),
        `${alert} stays quiet somewhere`,
      ).toBe(true);
    }
  });
});

describe("metric names in the rules and the dashboard", () => {
  let nats: NatsServerHandle | undefined;
  const running: ServiceHandle[] = [];
  /** Family name → type, from the four services' /metrics once they are ready (every family registered). */
  const families = new Map<string, string>();

  beforeAll(async () => {
    nats = await startNatsServer();
    const { env } = ephemeralEnv(nats.url);
    for (const name of SERVICES) running.push(await startService(name, { env }));
    for (const svc of running) {
      // Generous: the services boot in parallel with the rest of the suite on a shared machine.
      await waitReady(svc, 60_000);
      const text = await (await fetch(`${svc.url}/metrics`)).text();
      for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(m[1] ?? "", m[2] ?? "");
    }
  }, 120_000);
  afterAll(async () => {
    await Promise.all(running.map((s) => s.kill()));
    await nats?.dispose();
  });

  /** The series names a family yields (a histogram's _bucket, _sum and _count). */
  function exposed(): Set<string> {
    const names = new Set<string>();
    for (const [name, type] of families) {
      const add = (n: string) => {
        names.add(n);
        if (type === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(n + s);
        if (type === "summary") for (const s of ["_sum", "_count"]) names.add(n + s);
      };
      add(name);
    }
    return names;
  }

  it("the gateway exposes a publish→socket latency histogram in seconds and a connections gauge; fds are exposed", () => {
    expect(families.get("switchboard_gateway_publish_to_socket_seconds")).toBe("histogram");
    expect(families.get("switchboard_gateway_connections")).toBe("gauge");
    const names = exposed();
    expect(names.has("process_open_fds")).toBe(true);
    expect(names.has("process_max_fds")).toBe(true);
  });

  it("the standard process metrics keep their standard names (community Node.js dashboards query them)", () => {
    expect(families.get("process_cpu_seconds_total")).toBe("counter");
    expect(families.get("process_resident_memory_bytes")).toBe("gauge");
    expect(families.get("nodejs_eventloop_lag_seconds")).toBe("gauge");
    expect(families.get("nodejs_heap_size_used_bytes")).toBe("gauge");
    expect([...families.keys()].filter((n) => /^switchboard_(process|nodejs)_/.test(n))).toEqual([]);
  });

  it("every metric an alert rule reads is exposed (up is Prometheus' own)", () => {
    const names = exposed();
    for (const r of rules) for (const n of metricNames(r.expr)) if (n !== "up") expect(names.has(n), `${r.alert}: ${n}`).toBe(true);
  });

  it("every query of the Grafana dashboard names metrics the services expose", () => {
    const names = exposed();
    const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
    expect(queries.length).toBeGreaterThan(20);
    for (const q of queries) {
      const used = metricNames(q.expr);
      expect(used.length, q.panel).toBeGreaterThan(0);
      for (const n of used) expect(names.has(n), `${q.panel}: ${n}`).toBe(true);
    }
  });

  it("reads metric names out of PromQL as intended", () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(a_seconds_bucket{job="x", le=~"1"}[5m])))')).toEqual([
      "a_seconds_bucket",
    ]);
    expect(metricNames("sum(rate(x_total[5m] offset 5m)) > 5 * (sum(y) or vector(0)) and z / w")).toEqual(["x_total", "y", "z", "w"]);
  });
});
