/**
 * The least WebSocket a load client needs (RFC 6455), so that reading frames costs the bench far less than sending
 * them costs the server: the upgrade request written by hand, client frames masked with an all-zero key (valid, and
 * the payload is then sent as it is), and server frames (never masked) read by their 2–10 byte header in a loop over
 * each chunk the socket hands over, with a partial frame carried to the next chunk. No UTF-8 validation, no
 * fragmentation (servers here never fragment), no extensions.
 */

export const OP_TEXT = 0x1;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** A fixed Sec-WebSocket-Key: the bench does not check the accept hash (the 101 status is enough on 127.0.0.1). */
const KEY = "c3dpdGNoYm9hcmQtYmVuY2g=";

export function upgradeRequest(host: string, path: string): Buffer {
  return Buffer.from(
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    "latin1",
  );
}

/** A masked client frame (mask key 0, so the payload goes out unchanged). */
export function clientFrame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + 4 + n);
  out[0] = 0x80 | opcode;
  if (n < 126) out[1] = 0x80 | n;
  else if (n < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  out.writeUInt32BE(0, head);
  payload.copy(out, head + 4);
  return out;
}

export function textFrame(text: string): Buffer {
  return clientFrame(OP_TEXT, Buffer.from(text));
}

/** Called per complete server frame: its opcode and the payload's bounds in `buf`. */
export type FrameSink = (opcode: number, buf: Buffer, start: number, end: number) => void;

/**
 * Reads every complete frame of `buf` from `at`; returns where the first incomplete frame starts (buf.length when
 * none). The caller keeps the rest and prepends it to the next chunk.
 */
export function readFrames(buf: Buffer, at: number, sink: FrameSink): number {
  let i = at;
  const n = buf.length;
  while (i + 2 <= n) {
    let len = (buf[i + 1] ?? 0) & 0x7f;
    let h = 2;
    if (len === 126) {
      if (i + 4 > n) break;
      len = buf.readUInt16BE(i + 2);
      h = 4;
    } else if (len === 127) {
      if (i + 10 > n) break;
      len = Number(buf.readBigUInt64BE(i + 2));
      h = 10;
    }
    if (i + h + len > n) break;
    sink((buf[i] ?? 0) & 0x0f, buf, i + h, i + h + len);
    i += h + len;
  }
  return i;
}

/**
 * The first character of a JSON frame's `type` value: both servers send `{"type":"…` first, so byte 9 of the payload
 * tells a message push ('m'), the greeting ('c'), a reply ('r') and a presence push ('p') apart without parsing.
 */
export function typeChar(buf: Buffer, start: number): number {
  return buf[start + 9] ?? 0;
}

export const CH_MESSAGE = "m".charCodeAt(0);
export const CH_CONNECTED = "c".charCodeAt(0);
export const CH_REPLY = "r".charCodeAt(0);
export const CH_PRESENCE = "p".charCodeAt(0);
