/**
 * The demo page (docs/CONFIG.md) at /demo/: a small chat room with presence and history built on the client SDK,
 * served as plain files (the page, the client SDK's dist and the jose-free protocol modules) with an import map.
 *
 * Tokens: when the process has a dev key (SWITCHBOARD_DEV_KEY, which the `npm start` launcher sets) the page gets
 * one from GET /demo/token?name=… — answered only to loopback callers, signed with the dev key, limited to the
 * `demo:*` rooms and 15 minutes. Without a dev key that route answers 404 and the page asks for a pasted token.
 * The key itself never leaves the process.
 */
import { readFileSync, readdirSync } from "node:fs";
import { dirname, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SwitchboardError, buildClaims, signToken, tokenResponse, type SigningKey } from "@switchboard/protocol";
import { loadConfig } from "@switchboard/core";
import { gatewaySpec } from "./config.js";
import type { HttpRequest, HttpResponse, TemplatedApp } from "./uws.js";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const DEMO_ROOM_PATTERN = "demo:*";
const DEMO_TOKEN_SECONDS = 900;
const NAME_RE = /^[A-Za-z0-9 _.-]{1,32}$/;

/** URL prefix under /demo/ → directory, and which files of it may be served. */
const MOUNTS: ReadonlyArray<{ prefix: string; dir: string; allow: (file: string) => boolean }> = [
  { prefix: "sdk/client/", dir: join(REPO_ROOT, "libs/client-sdk/dist"), allow: (f) => /^[a-z-]+\.js$/.test(f) },
  // Only the protocol modules that do not import jose (the browser has no bundler).
  {
    prefix: "sdk/protocol/",
    dir: join(REPO_ROOT, "libs/protocol/dist"),
    allow: (f) => ["errors.js", "names.js", "frames.js", "messages.js", "requests.js"].includes(f),
  },
  { prefix: "", dir: join(REPO_ROOT, "libs/client-sdk/demo"), allow: (f) => /^[a-z-]+\.(html|js|css)$/.test(f) },
];

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

export function registerDemo(app: TemplatedApp): void {
  const devKey = loadConfig({ SWITCHBOARD_DEV_KEY: gatewaySpec.SWITCHBOARD_DEV_KEY }).SWITCHBOARD_DEV_KEY;
  app.get("/demo", (res) => {
    res.writeStatus("301 Moved Permanently").writeHeader("location", "/demo/").end();
  });
  app.get("/demo/token", (res, req) => demoToken(res, req, devKey));
  app.get("/demo/*", (res, req) => serveFile(res, req.getUrl().slice("/demo/".length)));
}

function serveFile(res: HttpResponse, path: string): void {
  const rel = path === "" ? "index.html" : path;
  for (const m of MOUNTS) {
    if (!rel.startsWith(m.prefix)) continue;
    const file = rel.slice(m.prefix.length);
    if (file.includes("/") || !m.allow(file)) break;
    let body: Buffer;
    try {
      if (!readdirSync(m.dir).includes(file)) break;
      body = readFileSync(join(m.dir, file));
    } catch {
      fail(res, "404 Not Found", new SwitchboardError("not_found", `demo file ${rel} is missing: run npm run build`));
      return;
    }
    res
      .writeStatus("200 OK")
      .writeHeader("content-type", TYPES[extname(file)] ?? "application/octet-stream")
      .writeHeader("cache-control", "no-cache")
      .writeHeader("x-content-type-options", "nosniff")
      .end(body);
    return;
  }
  fail(res, "404 Not Found", new SwitchboardError("not_found", `no demo file ${rel}`));
}

function demoToken(res: HttpResponse, req: HttpRequest, devKey: SigningKey | undefined): void {
  if (devKey === undefined) {
    const message = "demo tokens need SWITCHBOARD_DEV_KEY on the gateway (npm start sets it); paste a token instead";
    fail(res, "404 Not Found", new SwitchboardError("not_found", message));
    return;
  }
  // A reverse proxy on the same host would make every caller look local: proxied requests get no demo token.
  const proxied = req.getHeader("x-forwarded-for") !== "" || req.getHeader("forwarded") !== "" || req.getHeader("x-real-ip") !== "";
  if (proxied || !isLoopback(new TextDecoder().decode(res.getRemoteAddressAsText()))) {
    fail(res, "403 Forbidden", new SwitchboardError("unauthorized", "demo tokens are only handed to direct loopback callers"));
    return;
  }
  const name = (new URLSearchParams(req.getQuery()).get("name") ?? "").trim();
  if (!NAME_RE.test(name)) {
    fail(res, "400 Bad Request", new SwitchboardError("bad_request", "name must be 1-32 characters from A-Z a-z 0-9 space _ . -"));
    return;
  }
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  const claims = buildClaims({
    clientId: name,
    expiresIn: DEMO_TOKEN_SECONDS,
    permissions: { [DEMO_ROOM_PATTERN]: ["subscribe", "publish", "presence", "history"] },
  });
  void signToken(claims, devKey).then(
    (token) => {
      if (!aborted) res.cork(() => send(res, "200 OK", tokenResponse(token, claims)));
    },
    () => {
      if (!aborted) res.cork(() => fail(res, "500 Internal Server Error", new SwitchboardError("internal", "could not sign a demo token")));
    },
  );
}

function isLoopback(addr: string): boolean {
  const a = addr.toLowerCase();
  return (
    a === "::1" ||
    a.startsWith("127.") ||
    a.startsWith("::ffff:127.") ||
    /^0{4}:0{4}:0{4}:0{4}:0{4}:0{4}:0{4}:0{3}1$/.test(a) ||
    /^0{4}:0{4}:0{4}:0{4}:0{4}:ffff:7f[0-9a-f]{2}:[0-9a-f]{4}$/.test(a)
  );
}

function fail(res: HttpResponse, status: string, err: SwitchboardError): void {
  send(res, status, { error: err.toJSON() });
}

function send(res: HttpResponse, status: string, body: unknown): void {
  res
    .writeStatus(status)
    .writeHeader("content-type", "application/json")
    .writeHeader("cache-control", "no-store")
    .end(JSON.stringify(body));
}
