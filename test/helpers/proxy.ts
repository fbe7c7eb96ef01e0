/**
 * A TCP proxy in front of a nats-server, for cutting one client's NATS connection while the server and every other
 * client stay up: `cut()` drops the connections through it and refuses new ones (the client sees a disconnect and
 * keeps retrying), `heal()` lets it reconnect.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";

export interface NatsProxy {
  url: string;
  cut(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startNatsProxy(targetPort: number): Promise<NatsProxy> {
  const open = new Set<Socket>();
  let refusing = false;
  const server: Server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      open.add(a);
      a.on("error", () => undefined);
      a.on("close", () => {
        open.delete(a);
        b.destroy();
      });
      a.pipe(b);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  const port = typeof addr === "object" && addr !== null ? addr.port : 0;
  return {
    url: `nats://127.0.0.1:${port}`,
    cut: () => {
      refusing = true;
      for (const s of open) s.destroy();
    },
    heal: () => {
      refusing = false;
    },
    close: async () => {
      refusing = true;
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
