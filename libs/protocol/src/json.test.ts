/**
 * parseStrictJson: exact refusals, and properties over generated JSON: every value within the bounds reads back
 * equal to JSON.parse's, any repeated key is found wherever it sits, and no input makes it throw anything but a
 * bad_request SwitchboardError.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SwitchboardError } from "./errors.js";
import { parseStrictJson } from "./json.js";
import { MAX_JSON_DEPTH } from "./limits.js";

function refusal(text: string, where?: string): string {
  try {
    parseStrictJson(text, where);
  } catch (err) {
    expect(err).toBeInstanceOf(SwitchboardError);
    expect((err as SwitchboardError).code).toBe("bad_request");
    return (err as SwitchboardError).message;
  }
  throw new Error(`accepted ${text}`);
}

function depthOf(v: unknown): number {
  if (typeof v !== "object" || v === null) return 0;
  const children = Array.isArray(v) ? v : Object.values(v);
  return 1 + children.reduce<number>((max, c) => Math.max(max, depthOf(c)), 0);
}

describe("parseStrictJson", () => {
  it("reads scalars, strings with escapes and keys with escapes", () => {
    expect(parseStrictJson("5")).toBe(5);
    expect(parseStrictJson('"a\\"}{,"')).toBe('a"}{,');
    expect(parseStrictJson('{"a\\u0062":[1,-2.5e3,"]",{"c":true}],"d":null}')).toEqual({ ab: [1, -2500, "]", { c: true }], d: null });
    expect(parseStrictJson('{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}')).toEqual({ a: { a: { a: 1 } }, b: [{ a: 1 }, { a: 2 }] });
  });

  it("refuses what JSON.parse lets through, naming it", () => {
    expect(refusal('{"a":1,"b":2,"a":3}')).toBe('body repeats the key "a" in one object');
    expect(refusal('{"ab":1,"a\\u0062":2}', "frame")).toBe('frame repeats the key "ab" in one object');
    expect(refusal('[{"x":[{"__proto__":null}]}]')).toBe('body has the key "__proto__", which is not allowed');
    expect(refusal('{"constructor":{"prototype":1}}')).toBe('body has the key "prototype", which is not allowed');
    expect(parseStrictJson('{"prototype":{"constructor":1}}')).toEqual({ prototype: { constructor: 1 } });
    expect(refusal("-1e400")).toBe("body has the number -1e400, which is too large for a double");
    expect(refusal(`[${"9".repeat(400)}]`)).toMatch(/^body has the number 9{40}…, which is too large for a double$/);
    expect(parseStrictJson("[1e308,5e-324,1e-400]")).toEqual([1e308, 5e-324, 0]);
    expect(refusal("{")).toMatch(/^body is not valid JSON: /);
  });

  it(`accepts ${MAX_JSON_DEPTH} levels of nesting and refuses ${MAX_JSON_DEPTH + 1}`, () => {
    const nest = (n: number): string => '{"a":'.repeat(n - 1) + "[]" + "}".repeat(n - 1);
    expect(depthOf(parseStrictJson(nest(MAX_JSON_DEPTH)))).toBe(MAX_JSON_DEPTH);
    expect(refusal(nest(MAX_JSON_DEPTH + 1))).toBe(`body nests deeper than ${MAX_JSON_DEPTH} levels; flatten it`);
  });

  it("reads back every generated value within the bounds exactly as JSON.parse does", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const text = JSON.stringify(value);
        const hasProto = /"(__proto__)":/.test(text);
        fc.pre(!hasProto);
        expect(parseStrictJson(text)).toEqual(JSON.parse(text));
      }),
      { numRuns: 2000 },
    );
  });

  it("finds a repeated key wherever it is in the value", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.string(), fc.jsonValue({ maxDepth: 2 }), (inner, key, v) => {
        fc.pre(key !== "__proto__");
        const obj = `{${JSON.stringify(key)}:${JSON.stringify(v)},"other":${JSON.stringify(inner)},${JSON.stringify(key)}:1}`;
        const text = `[${JSON.stringify(inner)},{"wrap":${obj}}]`;
        fc.pre(!text.includes('"__proto__"') && key !== "other");
        expect(() => parseStrictJson(text)).toThrow(/repeats the key/);
      }),
      { numRuns: 500 },
    );
  });

  it("throws only bad_request SwitchboardErrors, whatever the text", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json({ maxDepth: 40 })), (text) => {
        try {
          parseStrictJson(text);
        } catch (err) {
          expect(err).toBeInstanceOf(SwitchboardError);
          expect((err as SwitchboardError).code).toBe("bad_request");
        }
      }),
      { numRuns: 3000 },
    );
  });
});
