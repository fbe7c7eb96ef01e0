import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { freePort } from "@switchboard/dev";

const ephemeralLow = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);

function listenOn(port: number): Promise<void> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(port, "127.0.0.1", () => srv.close(() => res()));
  });
}

describe("freePort", () => {
  it("hands out distinct ports below the kernel's ephemeral range, each free to listen on", async () => {
    const ports = await Promise.all(Array.from({ length: 50 }, () => freePort()));
    expect(new Set(ports).size).toBe(50);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port).toBeLessThan(ephemeralLow);
    }
    for (const port of ports) await listenOn(port);
  });

  it("skips a port something else listens on", async () => {
    const first = await freePort();
    // Hold the next few ports of this process's sequence, then ask again: none of them comes back.
    const held = await Promise.all(
      [1, 2, 3].map(
        (i) =>
          new Promise<ReturnType<typeof createServer>>((res, rej) => {
            const srv = createServer();
            srv.once("error", rej);
            srv.listen(first + i, "127.0.0.1", () => res(srv));
          }),
      ),
    );
    try {
      const next = await freePort();
      expect([first + 1, first + 2, first + 3]).not.toContain(next);
      await listenOn(next);
    } finally {
      await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
    }
  });
});
