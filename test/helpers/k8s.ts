/**
 * Kubernetes manifests as the tests see them: `kubectl kustomize` renders an overlay, each object is validated against
 * the Kubernetes OpenAPI schemas (kubernetes-models, and its packages for the Prometheus Operator and Gateway API
 * CRDs), and small helpers answer what a cluster would: which pods a selector picks, which Service an HTTPRoute
 * sends a request to.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { parseAllDocuments } from "yaml";

export const KUBECTL = ["/usr/bin/kubectl", "/usr/local/bin/kubectl"].find((p) => existsSync(p));

/** A rendered object, read loosely: the schema validation has already checked its shape. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // Manifests are free-form YAML; fields are read through the typed accessors below.
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

export function render(overlay: string): K8sObject[] {
  if (KUBECTL === undefined) throw new Error("kubectl is not installed");
  const text = execFileSync(KUBECTL, ["kustomize", overlay], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
  return parseAllDocuments(text).map((d) => d.toJS() as K8sObject);
}

type Validatable = new (data: unknown) => { validate(): void };

/** The kubernetes-models module holding an apiVersion's classes. */
function modelModule(apiVersion: string): string {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "monitoring.coreos.com") return `@kubernetes-models/prometheus-operator/${group}/${version}`;
  if (group === "gateway.networking.k8s.io") return `@kubernetes-models/gateway-api/${group}/${version}`;
  return group === "" ? `kubernetes-models/${version}` : `kubernetes-models/${group}/${version}`;
}

/** Throws with the object's kind and name when it does not match its schema (or its kind is unknown). */
export async function validate(obj: K8sObject): Promise<void> {
  const mod = (await import(modelModule(obj.apiVersion))) as Record<string, Validatable | undefined>;
  const Model = mod[obj.kind];
  if (Model === undefined) throw new Error(`no schema for ${obj.apiVersion} ${obj.kind}`);
  try {
    new Model(obj).validate();
  } catch (err) {
    throw new Error(`${obj.kind}/${obj.metadata.name}: ${(err as Error).message}`, { cause: err });
  }
}

export interface Container {
  name: string;
  image: string;
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: Record<string, { name: string; key: string } | undefined> }[];
  envFrom?: { configMapRef?: { name: string } }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; runAsNonRoot?: boolean };
}

export interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: {
    containers: Container[];
    terminationGracePeriodSeconds?: number;
    securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
    affinity?: { podAntiAffinity?: Record<string, unknown> };
    volumes?: { name: string; configMap?: { name: string } }[];
  };
}

/** Deployments and StatefulSets with their pod templates. */
export function workloads(objs: K8sObject[]): { obj: K8sObject; template: PodTemplate }[] {
  return objs
    .filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet")
    .map((obj) => ({ obj, template: obj.spec?.template as PodTemplate }));
}

export function find(objs: K8sObject[], kind: string, name: string): K8sObject {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (o === undefined) throw new Error(`no ${kind}/${name} in the render`);
  return o;
}

/** Whether a label selector (matchLabels form, or a Service's plain map) selects these labels. */
export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

export function podsSelectedBy(objs: K8sObject[], selector: Record<string, string>): PodTemplate[] {
  return workloads(objs)
    .map((w) => w.template)
    .filter((t) => selects(selector, t.metadata.labels));
}

export interface RouteMatch {
  path: { type: "Exact" | "PathPrefix"; value: string };
  method?: string;
}
interface RouteRule {
  matches: RouteMatch[];
  backendRefs: { name: string; port: number }[];
}

function pathMatches(m: RouteMatch, path: string): boolean {
  if (m.path.type === "Exact") return path === m.path.value;
  const prefix = m.path.value.replace(/\/$/, "");
  return prefix === "" || path === prefix || path.startsWith(prefix + "/");
}

/**
 * The backend an HTTPRoute sends `method path` to, by the Gateway API's precedence: an Exact path over a prefix,
 * then the longest prefix, then a match that names a method over one that does not.
 */
export function routeTo(route: K8sObject, method: string, path: string): { name: string; port: number } | undefined {
  const rules = (route.spec?.rules ?? []) as RouteRule[];
  const candidates = rules.flatMap((rule) =>
    rule.matches.filter((m) => pathMatches(m, path) && (m.method === undefined || m.method === method)).map((m) => ({ m, rule })),
  );
  candidates.sort(
    (a, b) =>
      Number(b.m.path.type === "Exact") - Number(a.m.path.type === "Exact") ||
      b.m.path.value.length - a.m.path.value.length ||
      Number(b.m.method !== undefined) - Number(a.m.method !== undefined),
  );
  return candidates[0]?.rule.backendRefs[0];
}
