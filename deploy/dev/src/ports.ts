/**
 * Free ports for the processes the tests and the dev launcher start.
 *
 * Why not bind(0): the kernel answers from its ephemeral range, the same range every outgoing connection draws its
 * local port from. The suite opens thousands of client sockets, so between the probe and the service's own listen a
 * client socket could take the port, and the service failed with EADDRINUSE (CI, stop 20). Ports are therefore taken
 * below the ephemeral range, where the kernel never hands one out by itself, from a slice of its own per vitest worker
 * (VITEST_POOL_ID) so that two workers never pick the same one, never twice in one process, and each is probed with a
 * real listen before it is handed out. When the ephemeral range leaves too little room below it, bind(0) it is.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

const LOWEST = 10_000;
const SLICES = 9; // slice 0 for processes outside vitest, 1-8 for its workers
const MIN_SLICE = 500;

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32_768;
  } catch {
    return 32_768; // not Linux: the IANA range starts at 49152, so this is below it too
  }
}

function probe(port: number, host: string): Promise<number | undefined> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE" || err.code === "EACCES") res(undefined);
      else rej(err);
    });
    srv.listen(port, host, () => {
      const addr = srv.address();
      const got = typeof addr === "object" && addr !== null ? addr.port : undefined;
      srv.close(() => res(got));
    });
  });
}

const sliceSize = Math.floor((ephemeralLow() - LOWEST) / SLICES);
const slice = (Number(process.env["VITEST_POOL_ID"]) || 0) % SLICES;
const sliceStart = LOWEST + slice * sliceSize;
let next = Math.floor(Math.random() * Math.max(sliceSize, 1));
let handedOut = 0;

/** A port on `host` that is free now and that no other caller of this function is given. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  if (sliceSize < MIN_SLICE) {
    const port = await probe(0, host);
    if (port === undefined) throw new Error(`no free port on ${host}`);
    return port;
  }
  // Each port of the slice is tried at most once per process: a port handed out, or found taken, is not tried again.
  while (handedOut < sliceSize) {
    const port = sliceStart + (next++ % sliceSize);
    handedOut++;
    if ((await probe(port, host)) !== undefined) return port;
  }
  throw new Error(`no free port left in ${sliceStart}-${sliceStart + sliceSize - 1} on ${host} for this process`);
}
