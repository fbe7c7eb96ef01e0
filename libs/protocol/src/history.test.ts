import { describe, expect, it } from "vitest";
import { SwitchboardError } from "./errors.js";
import { assertHistoryLimit, parseHistoryQuery, type HistoryQueryOptions } from "./history.js";

function refusal(o: Record<string, unknown>, opts?: HistoryQueryOptions): { code: string; message: string } {
  try {
    parseHistoryQuery(o, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(SwitchboardError);
    const e = err as SwitchboardError;
    return { code: e.code, message: e.message };
  }
  throw new Error(`expected ${JSON.stringify(o)} to be refused`);
}

const bad = (message: string) => ({ code: "bad_request", message });

describe("parseHistoryQuery", () => {
  it("reads every field from JSON, and sets only the fields given", () => {
    expect(parseHistoryQuery({ limit: 5, direction: "forwards", before: 9, after: 0, start: 1, end: 2, next: "abc" })).toEqual({
      limit: 5,
      direction: "forwards",
      before: 9,
      after: 0,
      start: 1,
      end: 2,
      next: "abc",
    });
    const q = parseHistoryQuery({ room: "r", withLast: true, limit: 100 });
    expect(q).toEqual({ limit: 100 });
    expect(Object.keys(q)).toEqual(["limit"]);
    expect(parseHistoryQuery({})).toEqual({});
  });

  it("reads decimal strings from a URL query", () => {
    expect(
      parseHistoryQuery({ limit: "7", before: "12", after: "0", start: "1700000000000", direction: "backwards" }, { source: "url" }),
    ).toEqual({
      limit: 7,
      before: 12,
      after: 0,
      start: 1700000000000,
      direction: "backwards",
    });
  });

  it("refuses bad values with bad_request and a message naming the field and its rule", () => {
    expect(refusal({ limit: 0 })).toEqual(bad("limit must be an integer from 1 to 100"));
    expect(refusal({ limit: 101 })).toEqual(bad("limit must be an integer from 1 to 100"));
    expect(refusal({ limit: 1.5 })).toEqual(bad("limit must be an integer from 1 to 100"));
    expect(refusal({ limit: "5" })).toEqual(bad("limit must be an integer from 1 to 100"));
    expect(refusal({ direction: "sideways" })).toEqual(bad('direction must be "backwards" or "forwards"'));
    expect(refusal({ before: 0 })).toEqual(bad("before must be an offset: an integer of at least 1"));
    expect(refusal({ after: -1 })).toEqual(bad("after must be an offset: an integer of at least 0"));
    expect(refusal({ start: "x" })).toEqual(bad("start must be a time in epoch ms: an integer of at least 0"));
    expect(refusal({ end: Number.MAX_SAFE_INTEGER + 1 })).toEqual(bad("end must be a time in epoch ms: an integer of at least 0"));
    expect(refusal({ next: 5 })).toEqual(bad("next must be the `next` string of a page, passed back unchanged"));
    expect(refusal({ next: "x".repeat(513) })).toEqual(bad("next must be the `next` string of a page, passed back unchanged"));
  });

  it("refuses from a URL what it refuses from JSON, and repeated or non-decimal parameters", () => {
    const url = { source: "url" } as const;
    expect(refusal({ limit: "101" }, url)).toEqual(bad("limit must be an integer from 1 to 100"));
    expect(refusal({ limit: "1e2" }, url)).toEqual(bad("limit must be an integer from 1 to 100"));
    expect(refusal({ limit: ["5", "6"] }, url)).toEqual(bad("limit must be an integer from 1 to 100"));
    expect(refusal({ before: "-3" }, url)).toEqual(bad("before must be an offset: an integer of at least 1"));
    expect(refusal({ after: "" }, url)).toEqual(bad("after must be an offset: an integer of at least 0"));
    expect(refusal({ direction: ["forwards", "backwards"] }, url)).toEqual(bad('direction must be "backwards" or "forwards"'));
  });

  it("with exact, refuses any other field; without cursor, ignores next", () => {
    expect(refusal({ limit: 5, lmit: 5 }, { exact: true })).toEqual(
      bad('unknown field "lmit"; use limit, direction, before, after, start, end, next'),
    );
    expect(refusal({ next: "a" }, { exact: true, cursor: false })).toEqual(
      bad('unknown field "next"; use limit, direction, before, after, start, end'),
    );
    expect(parseHistoryQuery({ next: 5, limit: 2 }, { cursor: false })).toEqual({ limit: 2 });
  });
});

describe("assertHistoryLimit", () => {
  it("returns a limit from 1 to 100 and refuses anything else", () => {
    expect([1, 100].map(assertHistoryLimit)).toEqual([1, 100]);
    for (const v of [0, 101, NaN, "1", undefined]) expect(() => assertHistoryLimit(v)).toThrow("limit must be an integer from 1 to 100");
  });
});
