/** The history pager (pager.ts) with exact values: limits, retention, bounds and both cursors. */
import { describe, expect, it } from "vitest";
import { SwitchboardError, type StoredMessage } from "@switchboard/protocol";
import { decodeCursor } from "./cursor.js";
import { checkLimit, cutPage, planPage, timeWindow, type ReadQuery } from "./pager.js";

const q = (over: Partial<ReadQuery> = {}): ReadQuery => ({ app: "a", room: "r", limit: 3, direction: "backwards", ...over });
const msg = (offset: number, timestamp = 1000 + offset): StoredMessage => ({
  room: "r",
  id: `m_${offset}`,
  offset,
  event: "e",
  data: null,
  timestamp,
});
const NO_TIME = { start: undefined, end: undefined };

describe("checkLimit", () => {
  it("accepts 1 to 100 and refuses anything else with bad_request naming limit", () => {
    for (const ok of [1, 50, 100]) expect(() => checkLimit(ok)).not.toThrow();
    for (const bad of [0, 101, -1, 1.5, NaN]) {
      let err: unknown;
      try {
        checkLimit(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SwitchboardError);
      expect((err as SwitchboardError).code).toBe("bad_request");
      expect((err as SwitchboardError).message).toBe("limit must be an integer from 1 to 100");
    }
  });
});

describe("timeWindow", () => {
  it("keeps the query's bounds when the app sets no max age", () => {
    expect(timeWindow({ direction: "backwards", start: 5, end: 9 }, {}, 10_000)).toEqual({ start: 5, end: 9 });
    expect(timeWindow({ direction: "backwards" }, {}, 10_000)).toEqual({ start: undefined, end: undefined });
  });
  it("raises start to now − max age, never lowers it", () => {
    expect(timeWindow({ direction: "backwards" }, { maxAgeMs: 3000 }, 10_000)).toEqual({ start: 7000, end: undefined });
    expect(timeWindow({ direction: "forwards", start: 8000, end: 9000 }, { maxAgeMs: 3000 }, 10_000)).toEqual({ start: 8000, end: 9000 });
  });
});

describe("planPage", () => {
  it("reads (after, before) below the room's last offset", () => {
    const p = planPage(q({ after: 10, before: 20 }), NO_TIME, 50);
    expect([p.lo, p.hi, p.need]).toEqual([11, 19, 4]);
    expect(p.resolved).toEqual({ direction: "backwards", start: undefined, end: undefined, timeResolved: true, after: 10 });
    const open = planPage(q(), NO_TIME, 50);
    expect([open.lo, open.hi, open.resolved.after]).toEqual([1, 50, undefined]);
    expect(planPage(q({ before: 80 }), NO_TIME, 50).hi).toBe(50);
  });
  it("narrows to the offsets the time window resolved to, and the next page starts from them", () => {
    const p = planPage(q({ start: 100, end: 200 }), { start: 100, end: 200 }, 50, { below: 7, above: 30 });
    expect([p.lo, p.hi]).toEqual([8, 30]);
    expect(p.resolved).toEqual({ direction: "backwards", start: 100, end: 200, timeResolved: true, after: 7 });
  });
  it("is empty when the bounds cross", () => {
    const p = planPage(q({ after: 50 }), NO_TIME, 50);
    expect(p.hi < p.lo).toBe(true);
  });
  it("accepts timestamps within the window, inclusive", () => {
    const p = planPage(q(), { start: 1005, end: 1007 }, 50);
    expect([4, 5, 6, 7, 8].map((o) => p.accept(msg(o)))).toEqual([false, true, true, true, false]);
    expect(planPage(q(), NO_TIME, 50).accept(msg(1, -5))).toBe(true);
  });
});

describe("cutPage", () => {
  it("forwards: the first `limit` rows; the cursor continues after the last one, pinned below hi + 1", () => {
    const plan = planPage(q({ direction: "forwards", after: 2 }), NO_TIME, 40);
    const { page, widthHint } = cutPage(plan, [msg(3), msg(5), msg(9), msg(12)]);
    expect(page.messages.map((m) => m.offset)).toEqual([3, 5, 9]);
    expect(widthHint).toBeUndefined();
    expect(decodeCursor(page.next ?? "")).toEqual({
      direction: "forwards",
      before: 41,
      after: 9,
      start: undefined,
      end: undefined,
      timeResolved: true,
      widthHint: undefined,
    });
  });
  it("backwards: newest first; the cursor continues below the last one with the offsets spanned", () => {
    const plan = planPage(q(), { start: 100, end: undefined }, 40);
    const { page, widthHint } = cutPage(plan, [msg(40), msg(37), msg(30), msg(21)]);
    expect(page.messages.map((m) => m.offset)).toEqual([40, 37, 30]);
    expect(widthHint).toBe(20);
    expect(decodeCursor(page.next ?? "")).toEqual({
      direction: "backwards",
      before: 30,
      after: undefined,
      start: undefined,
      end: undefined,
      timeResolved: true,
      widthHint: 20,
    });
  });
  it("ends paging (no cursor) when there is no extra row, in both directions", () => {
    for (const direction of ["forwards", "backwards"] as const) {
      const plan = planPage(q({ direction }), NO_TIME, 40);
      expect(cutPage(plan, [msg(1), msg(2), msg(3)])).toEqual({ page: { messages: [msg(1), msg(2), msg(3)], next: null } });
      expect(cutPage(plan, [])).toEqual({ page: { messages: [], next: null } });
    }
  });
  it("keeps the query's start/end in the cursor", () => {
    const plan = planPage(q({ start: 1001, end: 1040 }), { start: 1001, end: 1040 }, 40, { below: 0, above: 40 });
    const next = decodeCursor(cutPage(plan, [msg(9), msg(8), msg(7), msg(6)]).page.next ?? "");
    expect(next).toMatchObject({ start: 1001, end: 1040, before: 7, widthHint: 35, timeResolved: true });
  });
});
