/**
 * The history NATS endpoint (docs/HTTP-API.md: gateways reach history over request/reply for resume), served by two
 * history processes in one queue group: both answer, a cursor from one continues on the other, losing one keeps
 * the endpoint answering, and a socket resuming `since: {offset}` through the gateway gets exactly the rest.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Subjects } from "@switchboard/core";
import { issueToken, startCluster, type Cluster } from "./helpers/cluster.js";
import { openTestNats, publishMany, type Page, type TestNats } from "./helpers/history.js";
import { openSocket } from "./helpers/ws.js";

let cluster: Cluster;
let nats: TestNats;
let offsets: number[];
const ROOM = "resume:1";
const app = () => cluster.devKey.split(".")[0]!;

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.add("history", "history2");
  nats = await openTestNats(cluster);
  const [mine] = await Promise.all([publishMany(cluster, ROOM, 150), publishMany(cluster, "resume:noise", 50)]);
  offsets = mine;
}, 120_000);

afterAll(async () => {
  await nats?.close();
  await cluster?.close();
});

async function ask(body: Record<string, unknown>): Promise<Page & { last?: number; error?: { code: string; message: string } }> {
  const reply = await nats.nc.request(Subjects.history(app()), JSON.stringify(body), { timeout: 5000 });
  return reply.json();
}

async function natsRequests(service: string): Promise<number> {
  const text = await (await fetch(`${cluster.services.get(service)!.url}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith("switchboard_history_requests_total") && l.includes('source="nats"') && l.includes('result="ok"'));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("history over NATS with two history processes", () => {
  it("is served by both processes, and pages exactly with the cursor whichever process answers", async () => {
    const before = [await natsRequests("history"), await natsRequests("history2")];
    const seen: number[] = [];
    let page = await ask({ room: ROOM, direction: "forwards", limit: 10 });
    let pages = 1;
    seen.push(...page.messages.map((m) => m.offset));
    while (page.next !== null) {
      page = await ask({ room: ROOM, next: page.next, limit: 10 });
      seen.push(...page.messages.map((m) => m.offset));
      pages++;
    }
    expect(pages).toBe(15);
    expect(seen).toEqual(offsets);
    // 40 more requests: both processes of the queue group take a share (a miss has odds 2^-54).
    const backs = await Promise.all(Array.from({ length: 40 }, () => ask({ room: ROOM, limit: 3, withLast: true })));
    for (const b of backs) {
      expect(b.messages.map((m) => m.offset)).toEqual(offsets.slice(-3).reverse());
      expect(b.last).toBe(offsets[offsets.length - 1]);
    }
    const after = [await natsRequests("history"), await natsRequests("history2")];
    expect(after[0]! - before[0]! + (after[1]! - before[1]!)).toBe(55);
    expect(after[0]! - before[0]!).toBeGreaterThan(0);
    expect(after[1]! - before[1]!).toBeGreaterThan(0);
  });

  it("answers errors as {error} with the contract's codes", async () => {
    expect(await ask({ room: "bad.room" })).toEqual({ error: { code: "invalid_room", message: "room is invalid" } });
    const tooMany = await ask({ room: ROOM, limit: 101 });
    expect(tooMany.error?.code).toBe("bad_request");
    expect(tooMany.error?.message).toMatch(/limit/);
    expect((await ask({ room: ROOM, next: "garbage" })).error?.code).toBe("bad_request");
  });

  it("refuses bad query values with parseHistoryQuery's code and message instead of dropping them", async () => {
    const bad = (message: string) => ({ error: { code: "bad_request", message } });
    expect(await ask({ room: ROOM, direction: "sideways" })).toEqual(bad('direction must be "backwards" or "forwards"'));
    expect(await ask({ room: ROOM, before: -1 })).toEqual(bad("before must be an offset: an integer of at least 1"));
    expect(await ask({ room: ROOM, after: "3" })).toEqual(bad("after must be an offset: an integer of at least 0"));
    expect(await ask({ room: ROOM, start: 1.5 })).toEqual(bad("start must be a time in epoch ms: an integer of at least 0"));
    expect(await ask({ room: ROOM, limit: "10" })).toEqual(bad("limit must be an integer from 1 to 100"));
    expect(await ask({ room: ROOM, next: 7 })).toEqual(bad("next must be the `next` string of a page, passed back unchanged"));
    const reply = await nats.nc.request(Subjects.history(app()), "[1]", { timeout: 5000 });
    expect(reply.json()).toEqual(bad("request body is not a JSON object"));
  });

  it("resumes a socket through the gateway from an offset: exactly the later messages, in order", async () => {
    const token = await issueToken(cluster, { clientId: "resumer" });
    const sock = openSocket(cluster.wsUrl(token));
    await sock.waitFor((f) => f.type === "connected");
    const from = offsets[99]!;
    const reply = await sock.request("subscribe", { room: ROOM, since: { offset: from } }, 15_000);
    expect(reply).toMatchObject({ ok: true, result: { room: ROOM, recovered: true } });
    const want = offsets.slice(100);
    await sock.waitFor((f) => f.type === "message" && f["offset"] === want[want.length - 1], 15_000, "the last replayed message");
    expect(sock.frames.filter((f) => f.type === "message").map((f) => f["offset"])).toEqual(want);
    sock.close();
  });

  it("keeps answering when one history process is gone", async () => {
    await cluster.services.get("history2")!.kill();
    cluster.services.delete("history2");
    const answers = await Promise.all(Array.from({ length: 10 }, () => ask({ room: ROOM, limit: 1 })));
    expect(answers.map((a) => a.messages[0]?.offset)).toEqual(Array.from({ length: 10 }, () => offsets[offsets.length - 1]));
  });
});
