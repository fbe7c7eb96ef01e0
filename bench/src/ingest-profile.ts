/**
 * Loaded into the ingest process by ingest-bench (NODE_OPTIONS=--import, since --cpu-prof is not allowed there) when
 * BENCH_PROFILE is set: records a V8 CPU profile and writes it to $BENCH_PROFILE/ingest-<pid>.cpuprofile on exit.
 * Open it in Chrome DevTools, or summarise it with `node bench/dist/ingest-profile.js <file>`.
 */
import { Session } from "node:inspector";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
}

const dir = process.env["BENCH_PROFILE"];
if (process.argv[2] !== undefined && process.argv[1]?.endsWith("ingest-profile.js")) {
  summarise(process.argv[2]);
} else if (dir !== undefined) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.start");
  process.on("exit", () => {
    // Same-thread inspector sessions answer synchronously, so this completes inside the exit handler.
    session.post("Profiler.stop", (err, res) => {
      if (err !== null) return;
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `ingest-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}

/** Prints the functions with the most self time. */
function summarise(file: string): void {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const self = new Map<number, number>();
  for (const s of p.samples) self.set(s, (self.get(s) ?? 0) + 1);
  const byFn = new Map<string, number>();
  for (const n of p.nodes) {
    const url = n.callFrame.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/work\/main\//, "");
    const key = `${n.callFrame.functionName || "(anonymous)"} ${url}:${n.callFrame.lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + (self.get(n.id) ?? 0));
  }
  const total = p.samples.length;
  for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, 30))
    console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
}
