/**
 * k8s/ (docs/OPERATIONS.md): every overlay renders with `kubectl kustomize`, every object matches its Kubernetes schema, and
 * the rendered cluster keeps the invariants an operator relies on: probes on the services' real paths and ports,
 * resources, non-root and read-only pods, grace for the drain, NATS sized per overlay, selectors that pick real pods,
 * autoscalers on real targets, and a public route for every path of the contract. No real cluster runs here; these
 * checks are what a cluster would refuse or silently get wrong (see docs/OPERATIONS.md, "What the tests cover").
 */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { DEFAULT_PORTS } from "@switchboard/core";
import {
  KUBECTL,
  find,
  podsSelectedBy,
  render,
  routeTo,
  selects,
  validate,
  workloads,
  type K8sObject,
  type PodTemplate,
} from "./helpers/k8s.js";

const SERVICES = {
  auth: DEFAULT_PORTS.auth,
  "publish-ingest": DEFAULT_PORTS.ingest,
  history: DEFAULT_PORTS.history,
  "fanout-gateway": DEFAULT_PORTS.gateway,
} as const;

/** The public surface of docs/OPERATIONS.md (and §12's vendor paths): one request per route family, and who must answer it. */
const PUBLIC: [method: string, path: string, service: keyof typeof SERVICES][] = [
  ["GET", "/v1/ws", "fanout-gateway"],
  ["GET", "/", "fanout-gateway"],
  ["POST", "/v1/tokens", "auth"],
  ["POST", "/v1/tokens/revoke", "auth"],
  ["POST", "/v1/sessions", "auth"],
  ["GET", "/v1/sessions/s1", "auth"],
  ["POST", "/v1/sessions/s1/tokens", "auth"],
  ["DELETE", "/v1/sessions/s1", "auth"],
  ["POST", "/v1/apps", "auth"],
  ["PATCH", "/v1/apps/a1", "auth"],
  ["DELETE", "/v1/apps/a1/keys/k1", "auth"],
  ["POST", "/openvidu/api/sessions", "auth"],
  ["POST", "/openvidu/api/sessions/s1/connection", "auth"],
  ["DELETE", "/openvidu/api/sessions/s1/stream/str_c1", "auth"],
  ["POST", "/openvidu/api/tokens", "auth"],
  ["POST", "/session/create", "auth"],
  ["POST", "/v2/project/app.key/session/s1/signal", "auth"],
  ["POST", "/v2/project/app.key/session/s1/connection/c1/signal", "auth"],
  ["DELETE", "/v2/project/app.key/session/s1/connection/c1", "auth"],
  ...(
    [
      "CreateChatToken",
      "SendEvent",
      "DeleteMessage",
      "DisconnectUser",
      "CreateRoom",
      "GetRoom",
      "ListRooms",
      "UpdateRoom",
      "DeleteRoom",
    ] as const
  ).map((op): [string, string, "auth"] => ["POST", `/${op}`, "auth"]),
  ["POST", "/v1/rooms/chat:lobby/messages", "publish-ingest"],
  ["POST", "/v1/messages", "publish-ingest"],
  ["POST", "/api/v1/pub_subs", "publish-ingest"],
  ["POST", "/v1/rooms/chat:lobby/disconnect", "publish-ingest"],
  ["DELETE", "/v1/rooms/chat:lobby/messages/m_1", "publish-ingest"],
  ["GET", "/v1/rooms/chat:lobby/messages", "history"],
  ["GET", "/v1/rooms/chat:lobby/presence", "history"],
  ["GET", "/v1/rooms/chat:lobby/occupancy", "history"],
  ["GET", "/v1/rooms", "history"],
];

const OVERLAYS = ["dev", "prod"] as const;

function configMap(objs: K8sObject[], prefix: string): K8sObject {
  const cm = objs.find((o) => o.kind === "ConfigMap" && (o.metadata.name === prefix || o.metadata.name.startsWith(prefix + "-")));
  if (cm === undefined) throw new Error(`no ConfigMap ${prefix}`);
  return cm;
}

function serviceTemplate(objs: K8sObject[], name: string): PodTemplate {
  return (find(objs, "Deployment", name).spec?.template as PodTemplate | undefined) ?? expect.fail(`no template in ${name}`);
}

describe.skipIf(KUBECTL === undefined)("k8s overlays", () => {
  const rendered = new Map<string, K8sObject[]>(OVERLAYS.map((o) => [o, render(`k8s/overlays/${o}`)]));
  const get = (o: string) => rendered.get(o) ?? expect.fail(`overlay ${o} not rendered`);

  it("the schema validation refuses a broken object (so a pass below means something)", async () => {
    const broken = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "x" },
      spec: { replicas: "two", selector: {}, template: {} },
    };
    await expect(validate(broken as K8sObject)).rejects.toThrow(/Deployment\/x: .*replicas must be integer/);
  });

  for (const overlay of OVERLAYS) {
    describe(overlay, () => {
      it("every object matches its Kubernetes schema", async () => {
        const objs = get(overlay);
        expect(objs.length).toBeGreaterThan(25);
        for (const o of objs) await validate(o);
        const ns = overlay === "prod" ? "switchboard" : "switchboard-dev";
        for (const o of objs.filter((x) => x.kind !== "Namespace")) expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(ns);
      });

      it("each service: a Deployment probing /readyz and /healthz on its port, a Service and a PodDisruptionBudget", () => {
        const objs = get(overlay);
        for (const [name, port] of Object.entries(SERVICES)) {
          const t = serviceTemplate(objs, name);
          const c = t.spec.containers[0] ?? expect.fail(`${name}: no container`);
          expect(c.image, name).toMatch(new RegExp(`(^|/)switchboard/${name}:\\d+\\.\\d+\\.\\d+$`));
          expect(c.ports, name).toEqual([{ name: "http", containerPort: port }]);
          expect(c.env?.find((e) => e.name === "PORT")?.value, name).toBe(String(port));
          expect(c.readinessProbe?.httpGet, name).toEqual({ path: "/readyz", port: "http" });
          expect(c.livenessProbe?.httpGet, name).toEqual({ path: "/healthz", port: "http" });
          expect(t.spec.terminationGracePeriodSeconds, name).toBeGreaterThanOrEqual(15);

          const svc = find(objs, "Service", name);
          expect(svc.spec?.selector, name).toEqual({ "app.kubernetes.io/name": name });
          expect(selects(svc.spec?.selector as Record<string, string>, t.metadata.labels), name).toBe(true);
          expect(svc.spec?.ports, name).toEqual([{ name: "http", port, targetPort: "http" }]);

          const pdb = find(objs, "PodDisruptionBudget", name);
          expect(podsSelectedBy(objs, (pdb.spec?.selector as { matchLabels: Record<string, string> }).matchLabels), name).toEqual([t]);
        }
      });

      it("every pod: resources set, non-root, read-only root filesystem, no privilege escalation, pinned images", () => {
        for (const { obj, template } of workloads(get(overlay))) {
          const where = `${obj.kind}/${obj.metadata.name}`;
          expect(template.spec.securityContext?.runAsNonRoot, where).toBe(true);
          expect(template.spec.securityContext?.runAsUser, where).toBeGreaterThan(0);
          for (const c of template.spec.containers) {
            expect(c.resources?.requests?.cpu, `${where} ${c.name}`).toBeDefined();
            expect(c.resources?.requests?.memory, `${where} ${c.name}`).toBeDefined();
            expect(c.resources?.limits?.memory, `${where} ${c.name}`).toBeDefined();
            expect(c.securityContext?.readOnlyRootFilesystem, `${where} ${c.name}`).toBe(true);
            expect(c.securityContext?.allowPrivilegeEscalation, `${where} ${c.name}`).toBe(false);
            expect(c.image, `${where} ${c.name}`).toMatch(/:[\w][\w.-]*$/);
            expect(c.image, `${where} ${c.name}`).not.toMatch(/:latest$/);
          }
        }
      });

      it("secrets are referenced, never committed: no Secret object, every reference names switchboard-secrets or switchboard-nats", () => {
        const objs = get(overlay);
        expect(objs.filter((o) => o.kind === "Secret")).toEqual([]);
        const refs = workloads(objs).flatMap(({ template }) =>
          template.spec.containers.flatMap((c) =>
            (c.env ?? []).flatMap((e) => (e.valueFrom?.secretKeyRef ? [{ variable: e.name, ref: e.valueFrom.secretKeyRef }] : [])),
          ),
        );
        const natsUsers = ["auth", "publish-ingest", "history", "fanout-gateway", "admin"];
        const natsPasswords = ["AUTH", "INGEST", "HISTORY", "GATEWAY", "ADMIN"].map((u) => `SWITCHBOARD_NATS_${u}_PASSWORD`);
        expect(new Set(refs.map((r) => r.variable))).toEqual(
          new Set(["SWITCHBOARD_MASTER_KEY", "SWITCHBOARD_ADMIN_TOKEN", "NATS_PASSWORD", ...natsPasswords]),
        );
        for (const { ref } of refs)
          expect([
            "switchboard-secrets/master-key",
            "switchboard-secrets/admin-token",
            ...natsUsers.map((u) => `switchboard-nats/${u}`),
          ]).toContain(`${ref.name}/${ref.key}`);
        // Every service holds the master key (it decrypts key secrets); only auth holds the admin token.
        for (const name of Object.keys(SERVICES)) {
          const env = serviceTemplate(objs, name).spec.containers[0]?.env ?? [];
          expect(
            env.some((e) => e.name === "SWITCHBOARD_MASTER_KEY"),
            name,
          ).toBe(true);
          expect(
            env.some((e) => e.name === "SWITCHBOARD_ADMIN_TOKEN"),
            name,
          ).toBe(name === "auth");
          // Its own NATS user and that user's password (users.conf), nobody else's.
          expect(env.find((e) => e.name === "NATS_USER")?.value, name).toBe(name);
          expect(env.find((e) => e.name === "NATS_PASSWORD")?.valueFrom?.secretKeyRef, name).toEqual({
            name: "switchboard-nats",
            key: name,
          });
        }
      });

      it("every ConfigMap a pod uses is in the render", () => {
        const objs = get(overlay);
        const names = new Set(objs.filter((o) => o.kind === "ConfigMap").map((o) => o.metadata.name));
        for (const { obj, template } of workloads(objs)) {
          const used = [
            ...template.spec.containers.flatMap((c) => [
              ...(c.envFrom ?? []).flatMap((e) => (e.configMapRef ? [e.configMapRef.name] : [])),
              ...(c.env ?? []).flatMap((e) => (e.valueFrom?.configMapKeyRef ? [e.valueFrom.configMapKeyRef.name] : [])),
            ]),
            ...(template.spec.volumes ?? []).flatMap((v) => (v.configMap ? [v.configMap.name] : [])),
          ];
          for (const n of used) expect(names.has(n), `${obj.kind}/${obj.metadata.name} uses ConfigMap ${n}`).toBe(true);
        }
      });

      it("NATS: JetStream on a persistent volume, one node per host, a PDB, sized for the overlay", () => {
        const objs = get(overlay);
        const nats = find(objs, "StatefulSet", "nats");
        const spec = nats.spec as { replicas: number; volumeClaimTemplates: { metadata: { name: string } }[]; template: PodTemplate };
        const conf = configMap(objs, "nats-config").data?.["nats.conf"] ?? expect.fail("no nats.conf");
        const env = configMap(objs, "switchboard-env").data ?? {};
        expect(spec.volumeClaimTemplates.map((v) => v.metadata.name)).toEqual(["data"]);
        expect(conf).toMatch(/jetstream\s*{[^}]*store_dir: \/data/);
        expect(spec.template.spec.affinity?.podAntiAffinity).toHaveProperty("requiredDuringSchedulingIgnoredDuringExecution");
        expect(
          podsSelectedBy(
            objs,
            (find(objs, "PodDisruptionBudget", "nats").spec?.selector as { matchLabels: Record<string, string> }).matchLabels,
          ),
        ).toEqual([spec.template]);
        const c = spec.template.spec.containers.find((x) => x.name === "nats") ?? expect.fail("no nats container");
        expect(c.readinessProbe?.httpGet).toEqual({ path: "/healthz?js-enabled-only=true", port: "monitor" });
        expect(env.NATS_URL).toBe("nats://nats:4222");
        if (overlay === "prod") {
          expect(spec.replicas).toBe(3);
          expect(env.SWITCHBOARD_REPLICAS).toBe("3");
          expect(conf).toMatch(/sync_interval: always/);
          const routes = /routes: \[([^\]]*)\]/.exec(conf)?.[1]?.trim().split(/\s+/);
          expect(routes).toEqual([0, 1, 2].map((i) => `nats://nats-${i}.nats-headless:6222`));
        } else {
          expect(spec.replicas).toBe(1);
          expect(env.SWITCHBOARD_REPLICAS).toBe("1");
          expect(conf).not.toMatch(/cluster\s*{/);
        }
      });

      it("every Service selects real pods, on ports those pods name", () => {
        const objs = get(overlay);
        for (const svc of objs.filter((o) => o.kind === "Service")) {
          const pods = podsSelectedBy(objs, svc.spec?.selector as Record<string, string>);
          expect(pods.length, svc.metadata.name).toBeGreaterThan(0);
          for (const p of svc.spec?.ports as { targetPort: string }[]) {
            for (const pod of pods)
              expect(
                pod.spec.containers.flatMap((c) => c.ports ?? []).map((x) => x.name),
                svc.metadata.name,
              ).toContain(p.targetPort);
          }
        }
      });

      it("autoscalers: gateway on connections per pod and CPU, ingest on CPU, both on Deployments that exist", () => {
        const objs = get(overlay);
        const hpas = objs.filter((o) => o.kind === "HorizontalPodAutoscaler");
        expect(hpas.map((h) => h.metadata.name).sort()).toEqual(["fanout-gateway", "publish-ingest"]);
        for (const h of hpas) {
          const ref = h.spec?.scaleTargetRef as { kind: string; name: string };
          expect(find(objs, ref.kind, ref.name).metadata.name).toBe(h.metadata.name);
        }
        const metrics = (name: string) =>
          (
            find(objs, "HorizontalPodAutoscaler", name).spec?.metrics as {
              type: string;
              pods?: { metric: { name: string } };
              resource?: { name: string };
            }[]
          ).map((m) => m.pods?.metric.name ?? m.resource?.name);
        expect(metrics("fanout-gateway")).toEqual(["switchboard_gateway_connections", "cpu"]);
        expect(metrics("publish-ingest")).toEqual(["cpu"]);
      });

      it("NetworkPolicies select real pods: NATS reachable from the services only, the HTTP ports open", () => {
        const objs = get(overlay);
        type Peer = { podSelector?: { matchLabels?: Record<string, string> }; namespaceSelector?: object };
        type Rule = { from?: Peer[]; ports?: { port: string }[] };
        for (const np of objs.filter((o) => o.kind === "NetworkPolicy")) {
          const sel = (np.spec?.podSelector as { matchLabels?: Record<string, string> }).matchLabels ?? {};
          const pods = podsSelectedBy(objs, sel);
          expect(pods.length, np.metadata.name).toBeGreaterThan(0);
          for (const rule of (np.spec?.ingress ?? []) as Rule[]) {
            for (const port of rule.ports ?? [])
              for (const pod of pods)
                expect(
                  pod.spec.containers.flatMap((c) => c.ports ?? []).map((p) => p.name),
                  np.metadata.name,
                ).toContain(port.port);
            for (const peer of rule.from ?? [])
              if (peer.namespaceSelector === undefined && peer.podSelector?.matchLabels)
                expect(podsSelectedBy(objs, peer.podSelector.matchLabels).length, `${np.metadata.name} from`).toBeGreaterThan(0);
          }
        }
        const natsPolicy = find(objs, "NetworkPolicy", "nats").spec?.ingress as Rule[];
        const clientRule = natsPolicy.find((r) => r.ports?.some((p) => p.port === "client")) ?? expect.fail("no NATS client rule");
        const clients = podsSelectedBy(objs, clientRule.from?.[0]?.podSelector?.matchLabels ?? {});
        expect(clients.map((p) => p.metadata.labels["app.kubernetes.io/name"]).sort()).toEqual(Object.keys(SERVICES).sort());
        expect(find(objs, "NetworkPolicy", "default-deny-ingress").spec?.podSelector).toEqual({});
      });

      it("the public route sends every path of the contract to the service that serves it", () => {
        const objs = get(overlay);
        const route = find(objs, "HTTPRoute", "switchboard");
        const gateway = find(objs, "Gateway", "switchboard");
        const host = (gateway.spec?.listeners as { hostname: string }[])[0]?.hostname;
        expect(route.spec?.hostnames).toEqual([host]);
        expect(route.spec?.parentRefs).toEqual([{ name: "switchboard" }]);
        for (const [method, path, service] of PUBLIC) {
          const to = routeTo(route, method, path);
          expect(to, `${method} ${path}`).toEqual({ name: service, port: SERVICES[service] });
        }
        // Nothing else is routed: a path outside the contract finds no rule (the Gateway answers 404).
        expect(routeTo(route, "GET", "/metrics")).toBeUndefined();
        expect(routeTo(route, "GET", "/sessions")).toBeUndefined();
        expect(routeTo(route, "PUT", "/v1/rooms/x/messages")).toBeUndefined();
      });

      it("monitoring: a ServiceMonitor per service and for NATS on ports their Services have; the PrometheusRule is alerts.yml", () => {
        const objs = get(overlay);
        const monitors = objs.filter((o) => o.kind === "ServiceMonitor");
        expect(monitors.map((m) => m.metadata.name).sort()).toEqual([...Object.keys(SERVICES), "nats"].sort());
        for (const m of monitors) {
          const sel = (m.spec?.selector as { matchLabels: Record<string, string> }).matchLabels;
          const port = (m.spec?.endpoints as { port: string }[])[0]?.port;
          const services = objs.filter((o) => o.kind === "Service" && selects(sel, o.metadata.labels ?? {}));
          const withPort = services.filter((s) => (s.spec?.ports as { name: string }[]).some((p) => p.name === port));
          expect(
            withPort.map((s) => s.metadata.name),
            m.metadata.name,
          ).toEqual([m.metadata.name]);
        }
        const alerts = parse(readFileSync("deploy/prometheus/alerts.yml", "utf8")) as { groups: unknown };
        expect(find(objs, "PrometheusRule", "switchboard").spec?.groups).toEqual(alerts.groups);
      });
    });
  }
});
