/**
 * Helpers for the auth tests: raw JWT crafting (any header, any algorithm) with node:crypto, the gateway's
 * counted verify failures, and a small JSON HTTP client.
 */
import { createHmac } from "node:crypto";
import type { ServiceName } from "@switchboard/dev";
import type { Cluster } from "./cluster.js";

export function b64url(value: unknown): string {
  return Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
}

/** A compact JWS with `header` and `payload`, signed HMAC-SHA256 (or `hash`) with `secret`. */
export function craftToken(header: Record<string, unknown>, payload: Record<string, unknown>, secret: string, hash = "sha256"): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${createHmac(hash, Buffer.from(secret, "utf8")).update(input).digest("base64url")}`;
}

export function splitKey(apiKey: string): { appId: string; keyId: string; kid: string; secret: string } {
  const colon = apiKey.indexOf(":");
  const kid = apiKey.slice(0, colon);
  const [appId, keyId] = kid.split(".") as [string, string];
  return { appId, keyId, kid, secret: apiKey.slice(colon + 1) };
}

export function decodePayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
}

/** `switchboard_auth_verify_failures_total{reason}` as the gateway counts it now (0 when never counted). */
export async function verifyFailures(cluster: Cluster, reason: string, gateway: ServiceName = "fanout-gateway"): Promise<number> {
  const text = await (await fetch(`${cluster.url(gateway)}/metrics`)).text();
  for (const line of text.split("\n")) {
    if (line.startsWith("switchboard_auth_verify_failures_total{") && line.includes(`reason="${reason}"`))
      return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return 0;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown> & { error?: { code: string; message: string } };
}

export async function api(
  base: string,
  method: string,
  path: string,
  opts: { auth?: string; body?: unknown; rawBody?: string; contentType?: string } = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = {};
  if (opts.auth !== undefined) headers["authorization"] = opts.auth;
  const body = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  if (body !== undefined) headers["content-type"] = opts.contentType ?? "application/json";
  const res = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === "" ? {} : (JSON.parse(text) as ApiResponse["body"]) };
}
