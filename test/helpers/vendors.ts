/**
 * Helpers for the vendor drop-in tests (test/vendor-*.test.ts): a whole Switchboard whose auth knows the gateway's
 * public URL, and a second app with its own key (for "another app's session" attacks).
 */
import { startCluster, type Cluster } from "./cluster.js";
import { IvschatClient } from "@aws-sdk/client-ivschat";
import { api, splitKey } from "./auth.js";

/** Every service; auth started last so that SWITCHBOARD_PUBLIC_GATEWAY_URL names the running gateway. */
export async function startVendorCluster(): Promise<Cluster> {
  const cluster = await startCluster({ services: ["publish-ingest", "history", "fanout-gateway"] });
  try {
    const gateway = cluster.services.get("fanout-gateway");
    await cluster.add("auth", "auth", { SWITCHBOARD_PUBLIC_GATEWAY_URL: `ws://127.0.0.1:${gateway?.port ?? 0}` });
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}

/** A new app with one key; returns the full `appId.keyId:secret`. */
export async function createAppKey(cluster: Cluster, name: string): Promise<string> {
  const admin = `Bearer ${cluster.adminToken}`;
  const app = await api(cluster.url("auth"), "POST", "/v1/apps", { auth: admin, body: { name } });
  const key = await api(cluster.url("auth"), "POST", `/v1/apps/${String(app.body["id"])}/keys`, { auth: admin, body: {} });
  if (key.status !== 201) throw new Error(`key creation failed: ${key.status}`);
  return key.body["key"] as string;
}

/** The real IVS chat control-plane client (`@aws-sdk/client-ivschat`) on auth, signing with `apiKey`; no retries. */
export function ivsClient(
  cluster: Cluster,
  apiKey: string,
  extra: Partial<ConstructorParameters<typeof IvschatClient>[0]> = {},
  region = "us-west-2",
): IvschatClient {
  const k = splitKey(apiKey);
  return new IvschatClient({
    region,
    endpoint: cluster.url("auth"),
    credentials: { accessKeyId: k.kid, secretAccessKey: k.secret },
    maxAttempts: 1,
    ...extra,
  });
}
