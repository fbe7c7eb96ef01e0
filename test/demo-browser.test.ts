/**
 * The demo page at /demo/ in headless Chromium against a real cluster: the page loads the client SDK without a
 * bundler, gets a dev token, shows history and presence, sends a message and sees it arrive.
 */
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser } from "playwright-core";
import { SwitchboardClient, type MessagePush } from "@switchboard/client";
import { Switchboard } from "@switchboard/server";
import { startCluster, type Cluster } from "./helpers/cluster.js";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`demo-browser tests skipped: ${CHROMIUM} is missing (Debian: apt-get install chromium)`);

let cluster: Cluster;
let browser: Browser | undefined;

beforeAll(async () => {
  cluster = await startCluster();
  if (hasChromium)
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await cluster?.close();
});

describe("demo page over HTTP", () => {
  it("serves the page and the jose-free SDK files, and hands loopback callers demo tokens for demo:* only", async () => {
    const base = cluster.url("fanout-gateway");
    const page = await fetch(`${base}/demo/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await page.text()).toContain('"@switchboard/client": "/demo/sdk/client/index.js"');
    expect((await fetch(`${base}/demo/sdk/client/index.js`)).status).toBe(200);
    expect((await fetch(`${base}/demo/sdk/protocol/frames.js`)).status).toBe(200);
    expect((await fetch(`${base}/demo/sdk/protocol/tokens.js`)).status).toBe(404);
    expect((await fetch(`${base}/demo/..%2F..%2Fpackage.json`)).status).toBe(404);
    expect((await fetch(`${base}/demo`, { redirect: "manual" })).headers.get("location")).toBe("/demo/");

    expect((await fetch(`${base}/demo/token?name=${encodeURIComponent("<script>")}`)).status).toBe(400);
    expect((await fetch(`${base}/demo/token?name=eve`, { headers: { "x-forwarded-for": "203.0.113.9" } })).status).toBe(403);
    const res = await fetch(`${base}/demo/token?name=carol`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { token: string; expiresIn: number; clientId: string };
    expect(body).toMatchObject({ expiresIn: 900, clientId: "carol" });
    const payload = JSON.parse(Buffer.from(body.token.split(".")[1]!, "base64url").toString()) as Record<string, unknown>;
    expect(payload["permissions"]).toEqual({ "demo:*": ["subscribe", "publish", "presence", "history"] });
  });
});

describe("demo page in Chromium", () => {
  it.skipIf(!hasChromium)(
    `shows history and presence, sends a message and sees it arrive${hasChromium ? "" : ` (skipped: ${CHROMIUM} is missing)`}`,
    async () => {
      const sb = new Switchboard({ apiKey: cluster.devKey, ingestUrl: cluster.url("publish-ingest") });
      const earlier = await sb.publish("demo:lobby", "chat", { text: "from before" });

      // A Node client in the same room sees what the browser sends.
      const watcher = new SwitchboardClient({
        url: `ws://127.0.0.1:${cluster.services.get("fanout-gateway")!.port}/v1/ws`,
        token: (await sb.generateTokenResponse({ clientId: "watcher" })).token,
      });
      await watcher.connect();
      const seen: MessagePush[] = [];
      const arrived = new Promise<MessagePush>(
        (resolve) =>
          void watcher.room("demo:lobby").subscribe("chat", (m) => {
            seen.push(m);
            resolve(m);
          }),
      );
      await watcher.room("demo:lobby").presence.join();

      const page = await browser!.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`${cluster.url("fanout-gateway")}/demo/`);
      await page.fill("#name", "alice");
      await page.click("#join");
      await page.waitForSelector('#state[data-state="connected"]', { timeout: 20_000 });
      await page.waitForSelector(`#messages li[data-offset="${earlier.offset}"]`, { timeout: 20_000 });
      // A string expression: the test project has no DOM typings.
      await page.waitForFunction(
        '[...document.querySelectorAll("#members li")].map((li) => li.textContent).join(",") === "alice,watcher"',
        null,
        {
          timeout: 20_000,
        },
      );

      await page.fill("#text", "hello from the browser");
      await page.click("#send");
      const m = await arrived;
      expect(m).toMatchObject({ room: "demo:lobby", event: "chat", data: { text: "hello from the browser" }, clientId: "alice" });
      const li = await page.waitForSelector(`#messages li[data-offset="${m.offset}"]`, { timeout: 20_000 });
      expect(await li.$eval(".text", (e: { textContent: string | null }) => e.textContent)).toBe("hello from the browser");
      expect(await li.$eval(".who", (e: { textContent: string | null }) => e.textContent)).toBe("alice");
      const offsets = await page.$$eval("#messages li", (lis: Array<{ getAttribute(name: string): string | null }>) =>
        lis.map((x) => Number(x.getAttribute("data-offset"))),
      );
      expect(offsets).toEqual([earlier.offset, m.offset]);
      expect(seen).toHaveLength(1);
      expect(errors).toEqual([]);
      watcher.close();
      await page.close();
    },
    90_000,
  );
});
