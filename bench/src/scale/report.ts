/**
 * Output of the scale benchmark: every measured row is printed at once as one JSON line (`{"bench":"scale",...}`,
 * for scripts), and at the end as a table per scenario with, for each gateway row, its ratio to the bare uWS row of
 * the same phase measured in the same run.
 */
import { loadavg } from "node:os";
import { nth } from "./protocol.js";

export type Figures = Record<string, number | string>;

export interface Row {
  scenario: string;
  phase: string;
  server: string;
  figures: Figures;
}

const rows: Row[] = [];

export function record(scenario: string, phase: string, server: string, figures: Figures): void {
  const row = { scenario, phase, server, figures };
  rows.push(row);
  console.log(JSON.stringify({ bench: "scale", scenario, phase, server, load1: Number(nth(loadavg(), 0).toFixed(2)), ...figures }));
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : nth(sorted, Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length)));
}

/** The median of numbers in any order (NaN when empty). */
export function median(xs: number[]): number {
  return percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
}

function fmt(v: number | string | undefined): string {
  if (v === undefined) return "";
  if (typeof v === "string") return v;
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString("en-US");
  return v.toFixed(Math.abs(v) >= 10 ? 1 : 2);
}

/** Prints the table of every scenario run, with gateway/bare ratios of the numeric figures. */
export function printTables(): void {
  const scenarios = [...new Set(rows.map((r) => r.scenario))];
  for (const s of scenarios) {
    const rs = rows.filter((r) => r.scenario === s);
    const keys = [...new Set(rs.flatMap((r) => Object.keys(r.figures)))];
    const header = ["phase", "server", ...keys];
    const table: string[][] = [header];
    for (const r of rs) {
      table.push([r.phase, r.server, ...keys.map((k) => fmt(r.figures[k]))]);
      if (!r.server.startsWith("gateway")) continue;
      for (const bare of rs.filter((b) => b.phase === r.phase && b.server.startsWith("bare"))) {
        table.push([
          "",
          `  ÷ ${bare.server}`,
          ...keys.map((k) => {
            const a = r.figures[k];
            const b = bare.figures[k];
            return typeof a === "number" && typeof b === "number" && b !== 0 ? `${(a / b).toFixed(2)}×` : "";
          }),
        ]);
      }
    }
    const widths = header.map((_, i) => Math.max(...table.map((row) => (row[i] ?? "").length)));
    console.log(`\n== ${s} ==`);
    for (const row of table)
      console.log(row.map((cell, i) => (i < 2 ? cell.padEnd(nth(widths, i)) : cell.padStart(nth(widths, i)))).join("  "));
  }
}
