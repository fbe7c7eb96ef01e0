/**
 * Shared pieces of the benchmark scripts: CPU accounting of a process from /proc, and a lean keep-alive HTTP/1.1
 * client (one prepared request in flight per connection, responses framed by content-length) that takes as little
 * of the machine's CPU as possible, so the figures describe the server rather than the load generator.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { REPO_ROOT } from "@switchboard/dev";

/** Linux clock ticks per second (USER_HZ) for /proc/<pid>/stat. */
const TICKS = 100;

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); NaN when unknown. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return NaN;
  }
}

/** A prepared `POST` request with a JSON body, ready to write on a keep-alive connection. */
export function rawPost(port: number, path: string, authorization: string, body: string | Buffer): Buffer {
  const payload = typeof body === "string" ? Buffer.from(body) : body;
  return Buffer.concat([
    Buffer.from(
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: keep-alive\r\nAuthorization: ${authorization}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${payload.length}\r\n\r\n`,
    ),
    payload,
  ]);
}

/** A keep-alive connection sending one prepared request at a time; resolves each with the response status. */
export class RawConn {
  private buf: Buffer = Buffer.alloc(0);
  private resolve: ((status: number) => void) | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on("data", (d: Buffer) => this.onData(d));
  }

  static open(port: number): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const s = connect(port, "127.0.0.1", () => resolve(new RawConn(s)));
      s.once("error", reject);
    });
  }

  send(request: Buffer): Promise<number> {
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.socket.write(request);
    });
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    const end = this.buf.indexOf("\r\n\r\n");
    if (end < 0) return;
    const head = this.buf.subarray(0, end).toString("latin1");
    const m = /content-length: (\d+)/i.exec(head);
    const total = end + 4 + (m ? Number(m[1]) : 0);
    if (this.buf.length < total) return;
    this.buf = this.buf.subarray(total);
    const status = Number(head.slice(9, 12));
    const r = this.resolve;
    this.resolve = undefined;
    r?.(status);
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * A stand-in OpenTelemetry collector for the tracing-cost runs: an OTLP/HTTP endpoint on 127.0.0.1 that answers
 * every export with 200 and only counts what it got (spans counted by their `traceId` fields, JSON encoding).
 */
export async function startOtlpSink(): Promise<{ url: string; spans(): number; close(): void }> {
  const { createServer } = await import("node:http");
  let spans = 0;
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      spans += body.split('"traceId"').length - 1;
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)),
  );
  return { url: `http://127.0.0.1:${port}`, spans: () => spans, close: () => server.close() };
}

/** The few uWS members the bare baselines use (the package's own types are not a dependency of the bench workspace). */
export interface BareUws {
  App(): {
    ws(pattern: string, behavior: Record<string, unknown>): unknown;
    publish(topic: string, message: string): boolean;
    listen(host: string, port: number, cb: (socket: unknown) => void): unknown;
  };
  DISABLED: number;
  us_socket_local_port(socket: unknown): number;
}

/** The native uWS build the gateway loads, for a bare baseline server (the same binary, no JavaScript fallback). */
export function loadBareUws(): BareUws {
  const require = createRequire(join(REPO_ROOT, "services", "fanout-gateway", "package.json"));
  return require(`uWebSockets.js/binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`) as BareUws;
}
