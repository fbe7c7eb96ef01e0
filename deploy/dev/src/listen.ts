/**
 * `TOKEN=<jwt> npm run -s listen -- <room> [gateway-url]`: a minimal WebSocket subscriber for trying Switchboard
 * from a terminal. Prints every frame as one JSON line; Ctrl-C to stop. The token comes from the environment so it
 * shows up neither in npm's command echo nor in the process list.
 */
import WebSocket from "ws";

const [room, base = "ws://127.0.0.1:8080/v1/ws"] = process.argv.slice(2);
const token = process.env["TOKEN"];
if (room === undefined || token === undefined || token === "") {
  process.stderr.write("usage: TOKEN=<jwt> npm run -s listen -- <room> [ws://host:port/v1/ws]\n");
  process.exit(2);
}

const ws = new WebSocket(`${base}?token=${encodeURIComponent(token)}`, { perMessageDeflate: false });
// With ws's default binaryType ("nodebuffer") every message arrives as one Buffer.
ws.on("message", (data: Buffer) => {
  const text = data.toString();
  process.stdout.write(`${text}\n`);
  const frame = JSON.parse(text) as { type: string };
  if (frame.type === "connected") ws.send(JSON.stringify({ type: "subscribe", id: 1, room }));
});
ws.on("close", (code, reason) => {
  process.stderr.write(`closed: ${code} ${reason.toString()}\n`);
  process.exit(code === 1000 ? 0 : 1);
});
ws.on("error", (err) => {
  process.stderr.write(`cannot connect to ${base}: ${err.message}\n`);
  process.exit(1);
});
process.on("SIGINT", () => ws.close(1000));
