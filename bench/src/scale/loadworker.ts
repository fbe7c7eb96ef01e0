/**
 * One load-client process of the scale benchmark (forked by pool.ts; several run at once so that reading frames is
 * spread over processes and file-descriptor limits). It holds raw TCP WebSocket clients (wire.ts) and answers the
 * parent's commands over IPC: open sockets (from 127.0.0.x source addresses), subscribe them, expect a number of
 * message frames, run closed-loop publish or presence requests, report counters, close. It counts frames, reads
 * (socket `data` events) and, on sampled sockets, the publish→receive latency carried in each message's data
 * (`"t":<epoch ms with µs>`, written by the publisher).
 */
import { connect, type Socket } from "node:net";
import {
  CH_CONNECTED,
  CH_MESSAGE,
  CH_PRESENCE,
  CH_REPLY,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  clientFrame,
  readFrames,
  textFrame,
  typeChar,
  upgradeRequest,
} from "./wire.js";
import {
  nth,
  type Command,
  type Counters,
  type OpenResult,
  type RequestResult,
  type SubscribeResult,
  type ExpectResult,
} from "./protocol.js";

const CH_TRUE = "t".charCodeAt(0);
const now = (): number => performance.timeOrigin + performance.now();

class Client {
  carry: Buffer | undefined = undefined;
  upgraded = false;
  ready = false;
  done = false;
  readonly startedAt = now();
  /** Replies still awaited by the current subscribe or request loop. */
  awaiting = 0;
  nextId = 1;
  constructor(
    readonly sock: Socket,
    readonly sample: boolean,
  ) {}
}

let clients: Client[] = [];
const c: Counters = { frames: 0, reads: 0, messages: 0, presence: 0, okReplies: 0, errorReplies: 0, closes: {}, errors: {} };
let latencies: number[] = [];
let firstError: string | undefined;
/** Hooks of the command in progress. */
let onReady: ((cl: Client, ok: boolean) => void) | undefined;
let onReply: ((cl: Client, ok: boolean) => void) | undefined;
let onMessages: (() => void) | undefined;
let messageTarget = Infinity;

function frame(cl: Client, op: number, buf: Buffer, start: number, end: number): void {
  c.frames++;
  if (op === OP_TEXT) {
    const t = typeChar(buf, start);
    if (t === CH_MESSAGE) {
      c.messages++;
      if (cl.sample) {
        const i = buf.indexOf('"t":', start);
        if (i > 0 && i < end) latencies.push(now() - parseFloat(buf.toString("latin1", i + 4, i + 24)));
      }
      if (c.messages === messageTarget) onMessages?.();
    } else if (t === CH_REPLY) {
      const k = buf.indexOf('"ok":', start);
      const ok = k >= 0 && k < end && buf[k + 5] === CH_TRUE;
      if (ok) c.okReplies++;
      else {
        c.errorReplies++;
        firstError ??= buf.toString("utf8", start, Math.min(end, start + 300));
      }
      cl.awaiting--;
      onReply?.(cl, ok);
    } else if (t === CH_PRESENCE) c.presence++;
    else if (t === CH_CONNECTED && !cl.ready) {
      cl.ready = true;
      onReady?.(cl, true);
    }
  } else if (op === OP_PING) cl.sock.write(clientFrame(OP_PONG, buf.subarray(start, end)));
  else if (op === OP_CLOSE) {
    const code = end - start >= 2 ? String(buf.readUInt16BE(start)) : "none";
    c.closes[code] = (c.closes[code] ?? 0) + 1;
    if (end - start > 2) firstError ??= `close ${code}: ${buf.toString("utf8", start + 2, end)}`;
    finish(cl);
  }
}

function finish(cl: Client): void {
  if (cl.done) return;
  cl.done = true;
  cl.sock.destroy();
  if (!cl.ready) onReady?.(cl, false);
}

function onData(cl: Client, chunk: Buffer): void {
  c.reads++;
  let buf = cl.carry === undefined ? chunk : Buffer.concat([cl.carry, chunk]);
  cl.carry = undefined;
  let at = 0;
  if (!cl.upgraded) {
    const end = buf.indexOf("\r\n\r\n");
    if (end < 0) {
      cl.carry = buf;
      return;
    }
    if (buf.toString("latin1", 9, 12) !== "101") {
      const status = buf.toString("latin1", 9, 12);
      c.errors[`http ${status}`] = (c.errors[`http ${status}`] ?? 0) + 1;
      firstError ??= buf.toString("latin1", 0, Math.min(buf.length, 400));
      finish(cl);
      return;
    }
    cl.upgraded = true;
    at = end + 4;
    if (at === buf.length) return;
    buf = buf.subarray(at);
    at = 0;
  }
  const rest = readFrames(buf, at, (op, b, s, e) => frame(cl, op, b, s, e));
  if (rest < buf.length) cl.carry = Buffer.from(buf.subarray(rest));
}

function openOne(port: number, path: string, localAddress: string, sample: boolean): Client {
  const sock = connect({ port, host: "127.0.0.1", localAddress });
  const cl = new Client(sock, sample);
  sock.setNoDelay(true);
  sock.on("connect", () => sock.write(upgradeRequest(`127.0.0.1:${port}`, path)));
  sock.on("data", (d: Buffer) => onData(cl, d));
  sock.on("error", (err: NodeJS.ErrnoException) => {
    const k = err.code ?? err.message;
    c.errors[k] = (c.errors[k] ?? 0) + 1;
    firstError ??= err.message;
  });
  sock.on("close", () => {
    // Closed by the server without a close frame (or after an error): counted, so no socket disappears unseen.
    if (!cl.done) c.errors["closed without close frame"] = (c.errors["closed without close frame"] ?? 0) + 1;
    finish(cl);
  });
  return cl;
}

async function open(cmd: Extract<Command, { op: "open" }>): Promise<OpenResult> {
  const start = now();
  const connectMs: number[] = [];
  let failed = 0;
  let next = 0;
  let settled = 0;
  await new Promise<void>((resolve) => {
    if (cmd.count === 0) resolve();
    const launch = (): void => {
      const i = next++;
      const path = nth(cmd.paths, cmd.paths.length === 1 ? 0 : i);
      clients.push(openOne(cmd.port, path, nth(cmd.localAddresses, i % cmd.localAddresses.length), i % cmd.sampleEvery === 0));
    };
    onReady = (cl, ok) => {
      if (ok) connectMs.push(now() - cl.startedAt);
      else failed++;
      if (++settled === cmd.count) resolve();
      else if (next < cmd.count) launch();
    };
    for (let i = 0; i < Math.min(cmd.inFlight, cmd.count); i++) launch();
  });
  onReady = undefined;
  return { ready: connectMs.length, failed, connectMs, start, end: now(), firstError };
}

/** Socket k of this worker subscribes rooms (base + k) * perSocket + j (mod rooms), j < perSocket. */
async function subscribe(cmd: Extract<Command, { op: "subscribe" }>): Promise<SubscribeResult> {
  const start = now();
  let ok = 0;
  let failed = 0;
  let outstanding = 0;
  await new Promise<void>((resolve) => {
    onReply = (_cl, good) => {
      if (good) ok++;
      else failed++;
      if (--outstanding === 0) resolve();
    };
    clients.forEach((cl, k) => {
      if (!cl.ready || cl.done) return;
      const frames: Buffer[] = [];
      for (let j = 0; j < cmd.perSocket; j++) {
        const room = `${cmd.prefix}${((cmd.base + k) * cmd.perSocket + j) % cmd.rooms}`;
        const presence = cmd.presence ? ',"presence":true' : "";
        frames.push(textFrame(`{"type":"subscribe","id":${cl.nextId++},"room":"${room}"${presence}}`));
        cl.awaiting++;
        outstanding++;
      }
      cl.sock.write(Buffer.concat(frames));
    });
    if (outstanding === 0) resolve();
  });
  onReply = undefined;
  return { ok, failed, start, end: now(), firstError };
}

function expect(cmd: Extract<Command, { op: "expect" }>): Promise<ExpectResult> {
  const live = clients.filter((cl) => cl.ready && !cl.done).length;
  c.messages = 0;
  latencies = [];
  messageTarget = cmd.perSocket * live;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      onMessages = undefined;
      resolve({ reached: false, messages: c.messages, target: messageTarget, at: now(), latencies });
    }, cmd.timeoutMs);
    onMessages = () => {
      clearTimeout(timer);
      onMessages = undefined;
      resolve({ reached: true, messages: c.messages, target: messageTarget, at: now(), latencies });
    };
  });
}

/**
 * Closed-loop requests for `durationMs`: every socket keeps `window` requests in flight (publish to its room, or
 * presence join/leave alternating on its room), sending the next as each reply arrives.
 */
async function requests(cmd: Extract<Command, { op: "requests" }>): Promise<RequestResult> {
  const start = now();
  let ok = 0;
  let failed = 0;
  const replyMs: number[] = [];
  const sentAt = new Map<Client, number[]>();
  const stopAt = start + cmd.durationMs;
  const live = clients.filter((cl) => cl.ready && !cl.done);
  const send = (cl: Client, k: number): void => {
    const room = `${cmd.prefix}${(cmd.base + k) % cmd.rooms}`;
    const id = cl.nextId++;
    const text =
      cmd.kind === "publish"
        ? `{"type":"publish","id":${id},"room":"${room}","event":"tick","data":{"t":${now().toFixed(3)},"x":"${"x".repeat(60)}"}}`
        : `{"type":"presence.${id % 2 === 1 ? "join" : "leave"}","id":${id},"room":"${room}"}`;
    cl.awaiting++;
    let q = sentAt.get(cl);
    if (q === undefined) sentAt.set(cl, (q = []));
    q.push(now());
    cl.sock.write(textFrame(text));
  };
  await new Promise<void>((resolve) => {
    let outstanding = 0;
    const index = new Map<Client, number>();
    onReply = (cl, good) => {
      if (good) ok++;
      else failed++;
      const t = sentAt.get(cl)?.shift();
      if (t !== undefined && replyMs.length < 200_000) replyMs.push(now() - t);
      outstanding--;
      if (now() < stopAt && !cl.done) {
        outstanding++;
        send(cl, index.get(cl) ?? 0);
      } else if (outstanding === 0) resolve();
    };
    live.forEach((cl, k) => {
      index.set(cl, k);
      for (let w = 0; w < cmd.window; w++) {
        outstanding++;
        send(cl, k);
      }
    });
    if (outstanding === 0) resolve();
    setTimeout(() => resolve(), cmd.durationMs + 30_000).unref();
  });
  onReply = undefined;
  return { ok, failed, start, end: now(), replyMs, firstError };
}

/**
 * Drops every socket with a reset rather than a FIN: a closed-first client socket otherwise waits 60 s in TIME_WAIT,
 * and a storm leaves 25,000 of them a round; back-to-back runs then held 100,000+, and connects slowed and stalled
 * for the kernel's one-second SYN retry.
 */
function close(): Counters {
  for (const cl of clients) {
    cl.done = true;
    cl.sock.resetAndDestroy();
  }
  clients = [];
  return { ...c };
}

async function handle(cmd: Command): Promise<unknown> {
  switch (cmd.op) {
    case "open":
      return open(cmd);
    case "subscribe":
      return subscribe(cmd);
    case "expect":
      return expect(cmd);
    case "requests":
      return requests(cmd);
    case "stats":
      return { ...c, open: clients.filter((cl) => cl.ready && !cl.done).length };
    case "reset":
      Object.assign(c, { frames: 0, reads: 0, messages: 0, presence: 0, okReplies: 0, errorReplies: 0, closes: {}, errors: {} });
      firstError = undefined;
      return {};
    case "close":
      return close();
  }
}

process.on("message", (msg: { id: number; cmd: Command }) => {
  handle(msg.cmd).then(
    (result) => process.send?.({ id: msg.id, result }),
    (err: unknown) => process.send?.({ id: msg.id, error: String(err) }),
  );
});
process.on("disconnect", () => process.exit(0));
