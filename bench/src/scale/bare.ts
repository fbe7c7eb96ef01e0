/**
 * The bare uWebSockets.js baseline of the scale benchmark, run as its own process by the same script:
 *
 *   node bench/dist/scale/bare.js <natsUrl> <app>
 *
 * The least a server can do for the same clients: no token, no protocol layer, no persistence on the read side.
 * A socket is greeted with `{"type":"connected"}`; a `subscribe` frame joins the room's uWS topic and, for the
 * first socket of a room on this process, subscribes the room's live NATS subject (the subject the rooms stream
 * republishes to, as the gateway does) and waits for the server to have it (a flush) before the reply. Each live
 * message is turned into the same push frame the gateway sends (libs/core messagePushFrame) and published once to
 * the topic. Same uWS version and socket settings as the gateway (idle timeout with automatic pings, no compression).
 * Prints `port <n>` when listening.
 *
 * With BARE_HMAC_SECRET set (the connect storm's third server), an upgrade handler in JavaScript first checks each
 * token's HS256 signature with that secret (the query `token`; nothing else of it is read) and refuses a bad one
 * with 401: the least any server that verifies tokens in JavaScript pays per connect.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { Subjects, connectNats, createLogger, messagePushFrame } from "@switchboard/core";
import { loadBareUws } from "../lib.js";

/** The few uWS members the baseline uses (the package's types are not a dependency of the bench workspace). */
interface BareSocket {
  send(m: string): number;
  subscribe(topic: string): boolean;
}
interface BareResponse {
  upgrade(userData: object, key: string, protocol: string, extensions: string, context: unknown): void;
  writeStatus(status: string): BareResponse;
  end(body: string): void;
}
interface BareRequest {
  getQuery(name: string): string | undefined;
  getHeader(name: string): string;
}

async function main(natsUrl: string, app: string): Promise<void> {
  const uws = loadBareUws();
  const server = uws.App();
  const nc = await connectNats({ servers: [natsUrl], name: "bare-uws", log: createLogger("bare", "silent") }, new AbortController().signal);
  const rooms = new Map<string, Promise<void>>();
  const join_ = (room: string): Promise<void> => {
    let ready = rooms.get(room);
    if (ready === undefined) {
      const roomJson = JSON.stringify(room);
      nc.subscribe(Subjects.live(app, room), {
        callback: (_err, msg) => {
          const seq = Number(msg.headers?.get("Nats-Sequence"));
          server.publish(room, messagePushFrame(roomJson, seq, msg.string()));
        },
      });
      ready = nc.flush();
      rooms.set(room, ready);
    }
    return ready;
  };
  const decoder = new TextDecoder();
  const secret = process.env["BARE_HMAC_SECRET"];
  const open = new Set<BareSocket>();
  server.ws("/*", {
    compression: uws.DISABLED,
    maxPayloadLength: 64 * 1024,
    maxBackpressure: 64 * 1024 * 1024,
    closeOnBackpressureLimit: 1,
    idleTimeout: 60,
    sendPingsAutomatically: true,
    ...(secret === undefined
      ? {}
      : { upgrade: (res: BareResponse, req: BareRequest, context: unknown) => hmacUpgrade(res, req, context, secret) }),
    open: (ws: BareSocket) => {
      open.add(ws);
      ws.send('{"type":"connected"}');
    },
    message: (ws: BareSocket, frame: ArrayBuffer) => {
      const req = JSON.parse(decoder.decode(frame)) as { type: string; id: number; room: string };
      if (req.type !== "subscribe") {
        ws.send(`{"type":"reply","id":${req.id},"ok":false,"error":{"code":"bad_request"}}`);
        return;
      }
      void join_(req.room).then(() => {
        if (!open.has(ws)) return;
        ws.subscribe(req.room);
        ws.send(`{"type":"reply","id":${req.id},"ok":true,"result":{}}`);
      });
    },
    close: (ws: BareSocket) => {
      open.delete(ws);
    },
  });
  server.listen("127.0.0.1", 0, (socket) => {
    process.stdout.write(`port ${uws.us_socket_local_port(socket)}\n`);
  });
}

function hmacUpgrade(res: BareResponse, req: BareRequest, context: unknown, secret: string): void {
  const token = req.getQuery("token") ?? "";
  const dot = token.lastIndexOf(".");
  const expected = createHmac("sha256", secret).update(token.slice(0, dot)).digest();
  const given = Buffer.from(token.slice(dot + 1), "base64url");
  if (dot < 0 || given.length !== expected.length || !timingSafeEqual(given, expected)) {
    res.writeStatus("401 Unauthorized").end("bad token");
    return;
  }
  res.upgrade(
    {},
    req.getHeader("sec-websocket-key"),
    req.getHeader("sec-websocket-protocol"),
    req.getHeader("sec-websocket-extensions"),
    context,
  );
}

void main(process.argv[2] ?? "nats://127.0.0.1:4222", process.argv[3] ?? "bench");
