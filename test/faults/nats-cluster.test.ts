/**
 * A 3-node JetStream cluster under node loss and partitions (docs/GUARANTEES.md): nodes in their own network
 * namespaces (test/helpers/natscluster.ts), the rooms stream and buckets with 3 replicas, two gateways, ingest,
 * history and auth. Publishers never stop while a node is killed, cut off or two are lost; afterwards every 2xx is
 * in history exactly once with its data, every refusal was a 503 with Retry-After, and every socket on both
 * gateways got every stored message exactly once, in offset order (test/helpers/faults.ts, verify).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { findNatsServer, type ServiceHandle } from "@switchboard/dev";
import { STREAM_ROOMS } from "@switchboard/core";
import { startServices, type Services } from "../helpers/cluster.js";
import { metricValue } from "../helpers/gateway.js";
import { Publishers, Subscriber, historyRetries, verify } from "../helpers/faults.js";
import { startNatsCluster, type NatsCluster, type NatsNode } from "../helpers/natscluster.js";

/**
 * A partitioned stream leader keeps the messages it stored without quorum once healed on nats-server 2.9.10 (its
 * replica then holds more messages than the leader's, and reads placed on it return them: nats-io/nats-server#3848
 * and #3870, fixed in later 2.9 releases), so that case runs on 2.10 and later only. Production runs 2.11+.
 */
const LEADER_PARTITION = serverAtLeast(2, 10);

function serverAtLeast(major: number, minor: number): boolean {
  const v = /v(\d+)\.(\d+)/.exec(execFileSync(findNatsServer(), ["--version"], { encoding: "utf8" }));
  const [maj, min] = [Number(v?.[1] ?? 0), Number(v?.[2] ?? 0)];
  return maj > major || (maj === major && min >= minor);
}

interface World {
  nats: NatsCluster;
  services: Services;
  gwA: ServiceHandle;
  gwB: ServiceHandle;
}
let world: World | undefined;

beforeAll(async () => {
  const nats = await startNatsCluster();
  let services: Services | undefined;
  try {
    // Services start on n1 and n2; they learn n3 from the cluster and fail over to any node.
    const two = nats.urls(nats.nodes.slice(0, 2));
    services = await startServices(two, { services: ["auth", "publish-ingest", "history"], env: { SWITCHBOARD_REPLICAS: "3" } });
    const gwA = await services.add("fanout-gateway", "gwA", { NATS_URL: nats.nodes[0]?.url ?? "" });
    const gwB = await services.add("fanout-gateway", "gwB", { NATS_URL: nats.nodes[1]?.url ?? "" });
    world = { nats, services, gwA, gwB };
  } catch (err) {
    await services?.close();
    await nats.close();
    throw err;
  }
}, 180_000);

afterAll(async () => {
  if (historyRetries.length > 0)
    console.info(`history answered 503 (retried) ${historyRetries.length} times:\n${historyRetries.join("\n")}`);
  await world?.services.close();
  await world?.nats.close();
});

function w(): World {
  if (world === undefined) throw new Error("the cluster did not start");
  return world;
}

/** Polls (no event exists for it) until `read` returns a value that `ok` accepts. */
async function poll<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    try {
      last = await read();
      if (ok(last)) return last;
    } catch {
      // the node or the leader is not there yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function streamLeader(): Promise<NatsNode> {
  const leader = await poll(
    () => w().nats.streamLeader(STREAM_ROOMS),
    (n) => n !== undefined,
    "a stream leader every reachable node agrees on",
  );
  if (leader === undefined) throw new Error("unreachable");
  return leader;
}

/** Waits until every node's replica holds exactly what the leader's holds. */
async function replicasConverge(): Promise<{ messages: number; last_seq: number }> {
  const leader = await streamLeader();
  const want = await poll(
    () => leader.streamState(STREAM_ROOMS),
    (s) => s !== undefined,
    `${leader.name}'s stream state`,
  );
  const target = { messages: want?.messages ?? -1, last_seq: want?.last_seq ?? -1 };
  for (const n of w().nats.nodes) {
    await poll(
      () => n.streamState(STREAM_ROOMS),
      (s) => s !== undefined && s.messages === target.messages && s.last_seq === target.last_seq,
      `${n.name} to catch up to ${JSON.stringify(target)}`,
    );
  }
  return target;
}

/** What the gateways counted so far: messages read back after NATS reconnects, and the reconnects (for the logs). */
async function gatewayCounts(): Promise<string> {
  const { gwA, gwB } = w();
  const one = async (g: ServiceHandle) =>
    `${await metricValue(g, "switchboard_nats_reconnects_total")} reconnects/${await metricValue(g, "switchboard_gateway_reconnect_recovered_total")} recovered`;
  return `gwA ${await one(gwA)}, gwB ${await one(gwB)}`;
}

async function subscribers(rooms: string[], tag: string): Promise<Subscriber[]> {
  const { services, gwA, gwB } = w();
  return [
    await Subscriber.open(services, gwA, rooms, `${tag}-a1`),
    await Subscriber.open(services, gwA, rooms, `${tag}-a2`),
    await Subscriber.open(services, gwB, rooms, `${tag}-b1`),
  ];
}

const ROOMS = (tag: string) => [1, 2, 3, 4].map((k) => `${tag}:${k}`);

describe("a 3-node JetStream cluster", () => {
  it("survives a SIGKILL of the stream leader mid-stream, and the restarted node catches up", async () => {
    const rooms = ROOMS("kill");
    const subs = await subscribers(rooms, "kill");
    const pubs = new Publishers(w().services, rooms, 8);
    try {
      await pubs.moreAcks(200, "200 acks before the kill");
      const leader = await streamLeader();
      const killedAt = Date.now();
      await leader.kill();
      const next = await poll(streamLeader, (n) => n.name !== leader.name, "a new stream leader");
      const electedMs = Date.now() - killedAt;
      await pubs.moreAcks(200, "200 acks with the leader gone");
      await leader.start();
      await pubs.moreAcks(200, "200 acks after the restart");
      await pubs.stop();
      const pause = pubs.longestPause(killedAt - 1000);
      const counts = await verify(pubs, subs, w().services);
      const converged = await replicasConverge();
      console.info(
        `leader ${leader.name} killed, ${next.name} elected after ${electedMs} ms; longest pause between acks ${pause} ms; ` +
          `${pubs.acked().length} acked, ${pubs.failed().length} refused (${pubs.summary()}); stored ${JSON.stringify([...counts])}; replicas at ${JSON.stringify(converged)}; ${await gatewayCounts()}`,
      );
      // Publishing pauses for the election at most (plus one ack timeout on a loaded machine), never longer.
      expect(pause).toBeLessThan(electedMs + 5000);
      for (const s of subs) expect(s.closes).toEqual([]);
    } finally {
      await pubs.stop();
      for (const s of subs) s.close();
    }
  });

  /**
   * Cuts `pick` off while publishers run, heals it, and checks everything. A follower on nats-server 2.9.10 here;
   * the leader only on 2.10+ (see LEADER_PARTITION below).
   */
  async function partitionAndHeal(tag: string, pick: (leader: NatsNode) => NatsNode): Promise<void> {
    const rooms = ROOMS(tag);
    const subs = await subscribers(rooms, tag);
    const pubs = new Publishers(w().services, rooms, 8);
    try {
      await pubs.moreAcks(200, "200 acks before the partition");
      const leader = await streamLeader();
      const cut = pick(leader);
      const cutAt = Date.now();
      cut.partition();
      try {
        const next = await poll(streamLeader, (n) => n.name !== cut.name, "a leader on the majority side");
        console.info(`partitioned ${cut.name} (leader was ${leader.name}); ${next.name} leads after ${Date.now() - cutAt} ms`);
        await pubs.moreAcks(300, "300 acks on the majority side");
      } finally {
        cut.heal();
      }
      await pubs.moreAcks(200, "200 acks after the heal");
      await pubs.stop();
      const counts = await verify(pubs, subs, w().services).catch((err: unknown) => {
        for (const [k, svc] of w().services.services)
          console.error(
            `--- ${k}\n${svc
              .output()
              .split("\n")
              .filter((l) => !l.includes('"level":30'))
              .slice(-30)
              .join("\n")}`,
          );
        throw err;
      });
      const converged = await replicasConverge();
      console.info(
        `partition of ${cut.name}: longest pause ${pubs.longestPause(cutAt)} ms; ${pubs.acked().length} acked, ${pubs.failed().length} refused (${pubs.summary()}); ` +
          `stored ${JSON.stringify([...counts])}; replicas at ${JSON.stringify(converged)}; resumes ${subs.map((s) => s.resumes).join(",")}; ${await gatewayCounts()}`,
      );
      for (const s of subs) expect(s.closes).toEqual([]);
    } finally {
      await pubs.stop();
      for (const s of subs) s.close();
    }
  }

  it("keeps publishing while a follower is partitioned away, and the healed node catches up", async () => {
    await partitionAndHeal("part", (leader) => w().nats.nodes.find((n) => n !== leader) as NatsNode);
  });

  it.skipIf(!LEADER_PARTITION)("keeps publishing while the stream leader is partitioned away, and the healed node catches up", async () => {
    await partitionAndHeal("lpart", (leader) => leader);
  });

  it("answers 503 with Retry-After while two of three nodes are down, keeps sockets open, and loses nothing", async () => {
    const rooms = ROOMS("two");
    const subs = await subscribers(rooms, "two");
    const pubs = new Publishers(w().services, rooms, 8);
    try {
      await pubs.moreAcks(200, "200 acks before the loss");
      const leader = await streamLeader();
      const other = w().nats.nodes.find((n) => n !== leader) as NatsNode;
      await Promise.all([leader.kill(), other.kill()]);
      const lostAt = Date.now();
      await pubs.until(
        () => pubs.outcomes.filter((o) => o.at > lostAt + 3000 && o.status === 503).length >= 50,
        "50 refusals while two nodes are down",
      );
      const ackedWhileDown = pubs.acked().filter((o) => o.at > lostAt + 3000).length;
      for (const s of subs) expect(s.socket()?.ws.readyState, s.name).toBe(1);
      await leader.start();
      await pubs.moreAcks(300, "300 acks with two nodes back");
      await other.start();
      await pubs.moreAcks(100, "100 acks with all three back");
      await pubs.stop();
      const counts = await verify(pubs, subs, w().services);
      const converged = await replicasConverge();
      console.info(
        `two down: ${pubs.acked().length} acked, ${pubs.failed().length} refused (${pubs.summary()}); stored ${JSON.stringify([...counts])}; replicas at ${JSON.stringify(converged)}; ${await gatewayCounts()}`,
      );
      expect(ackedWhileDown).toBe(0);
      for (const s of subs) expect(s.closes).toEqual([]);
    } finally {
      await pubs.stop();
      for (const s of subs) s.close();
    }
  });
});
