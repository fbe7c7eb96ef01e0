/**
 * Strict JSON for every body and frame a client sends: `JSON.parse` for the syntax (native and fast), then one linear
 * pass over the same text that refuses what JSON.parse lets through silently:
 * - a key repeated in one object (JSON.parse keeps the last; two parsers could disagree on which one counts);
 * - `__proto__` anywhere, and `prototype` under `constructor` (prototype poisoning once the value is merged);
 * - nesting deeper than MAX_JSON_DEPTH (bounded recursion for everything that later walks the value);
 * - a number too large for a double (`1e999` would become Infinity, then `null` once stored).
 * The pass reads the text as valid JSON (JSON.parse already said so), so it only tracks strings, keys and brackets.
 */
import { SwitchboardError } from "./errors.js";
import { MAX_JSON_DEPTH } from "./limits.js";

/** Parses `text` as strict JSON, or throws `bad_request` saying what to fix (`where` names the input: "body"). */
export function parseStrictJson(text: string, where = "body"): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SwitchboardError("bad_request", `${where} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  // A scalar has no keys or nesting; only a huge number can still be wrong.
  if (typeof value === "object" && value !== null) checkShape(text, where);
  else if (typeof value === "number" && !Number.isFinite(value)) throw outOfRange(where, text.trim());
  return value;
}

interface Level {
  readonly object: boolean;
  /** The key this container is the value of (undefined at the top or in an array). */
  readonly parentKey: string | undefined;
  keys: Set<string> | undefined;
  first: string | undefined;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function checkShape(text: string, where: string): void {
  const stack: Level[] = [];
  /** The last key read in the innermost object, waiting for its value. */
  let pendingKey: string | undefined;
  let expectKey = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (expectKey) {
        const raw = text.slice(i + 1, end);
        const key = raw.includes("\\") ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
        addKey(stack[stack.length - 1] as Level, key, where);
        pendingKey = key;
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= MAX_JSON_DEPTH)
        throw new SwitchboardError("bad_request", `${where} nests deeper than ${MAX_JSON_DEPTH} levels; flatten it`);
      const top = stack[stack.length - 1];
      const parentKey = top?.object === true ? pendingKey : undefined;
      stack.push({ object: c === 0x7b, parentKey, keys: undefined, first: undefined });
      expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1]?.object === true;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      let exponent = false;
      for (; j < n; j++) {
        const d = text.charCodeAt(j);
        if (d === 0x65 || d === 0x45) exponent = true;
        else if (!(d >= 0x30 && d <= 0x39) && d !== 0x2e && d !== 0x2b && d !== 0x2d) break;
      }
      // Without an exponent a double overflows only past 309 digits.
      if ((exponent || j - i > 309) && !Number.isFinite(Number(text.slice(i, j)))) throw outOfRange(where, text.slice(i, j));
      i = j - 1;
    }
  }
}

function addKey(level: Level, key: string, where: string): void {
  if (key === "__proto__" || (key === "prototype" && level.parentKey === "constructor"))
    throw new SwitchboardError("bad_request", `${where} has the key "${key}", which is not allowed`);
  if (level.first === undefined) {
    level.first = key;
    return;
  }
  if (level.keys === undefined) level.keys = new Set([level.first]);
  if (level.keys.has(key)) throw new SwitchboardError("bad_request", `${where} repeats the key "${clip(key)}" in one object`);
  level.keys.add(key);
}

/** Index of the quote closing the string that opens at `start`. */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) return i;
  }
  return text.length;
}

function outOfRange(where: string, token: string): SwitchboardError {
  return new SwitchboardError("bad_request", `${where} has the number ${clip(token)}, which is too large for a double`);
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
