import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  ALL_CAPS,
  CAPABILITIES,
  Cap,
  EffectivePermissions,
  Permissions,
  ROLES,
  ROLE_CAPS,
  applyRole,
  cutToCeiling,
  isValidPattern,
  maskToCaps,
  patternsOverlap,
  type PermissionMap,
} from "./permissions.js";

describe("patterns", () => {
  it("validates", () => {
    for (const p of ["*", "chat", "chat:*", "*:lobby", "a:*:c", "a:b:*"]) expect(isValidPattern(p)).toBe(true);
    for (const p of ["", "ch*t", "a::b", ":a", "a.b", "a b", "**"]) expect(isValidPattern(p)).toBe(false);
  });

  it("matches: * one segment, a final * one or more, most specific wins", () => {
    const p = new Permissions({
      "*": ["subscribe"],
      "chat:*": ["subscribe", "publish"],
      "chat:lobby": ["history"],
      "chat:*:mods": ["moderate"],
      "a:*:c": ["presence"],
    });
    expect(p.maskFor("anything")).toBe(Cap.subscribe);
    expect(p.maskFor("x:y:z")).toBe(Cap.subscribe); // bare * is a final * and matches any room
    expect(p.maskFor("chat:general")).toBe(Cap.subscribe | Cap.publish);
    expect(p.maskFor("chat:a:b")).toBe(Cap.subscribe | Cap.publish);
    expect(p.maskFor("chat:lobby")).toBe(Cap.history);
    expect(p.maskFor("chat:room1:mods")).toBe(Cap.moderate);
    expect(p.maskFor("a:b:c")).toBe(Cap.presence);
    expect(p.maskFor("chat")).toBe(Cap.subscribe);
  });

  it("grants nothing without a matching pattern", () => {
    const p = new Permissions({ "chat:*": ["*"] });
    expect(p.maskFor("chat")).toBe(0);
    expect(p.maskFor("other")).toBe(0);
    expect(p.maskFor("chat:x")).toBe(ALL_CAPS);
  });

  it("refuses unknown capabilities and bad patterns with bad_request", () => {
    expect(() => new Permissions({ "*": ["fly"] })).toThrow(/unknown capability "fly"/);
    expect(() => new Permissions({ "a.b": ["*"] })).toThrow(/invalid room pattern/);
  });

  it("overlap", () => {
    expect(patternsOverlap("chat:*", "chat:lobby")).toBe(true);
    expect(patternsOverlap("chat:*", "news:*")).toBe(false);
    expect(patternsOverlap("*", "a:b:c")).toBe(true);
    expect(patternsOverlap("a:*:c", "a:b")).toBe(false);
    expect(patternsOverlap("a:b", "a:*:*")).toBe(false);
  });
});

describe("roles and ceilings", () => {
  it("role gives every pattern exactly its capabilities", () => {
    expect(applyRole({ "session:1": ["*"], x: ["moderate"] }, "subscriber")).toEqual({
      "session:1": ["subscribe", "presence", "history", "metrics"],
      x: ["subscribe", "presence", "history", "metrics"],
    });
    expect(ROLE_CAPS.publisher & Cap.publish).toBe(Cap.publish);
    expect(ROLE_CAPS.moderator & Cap.moderate).toBe(Cap.moderate);
    expect(ROLE_CAPS.subscriber & Cap.publish).toBe(0);
  });

  it("cuts requested permissions to the key ceiling", () => {
    expect(cutToCeiling({ "*": ["*"] }, { "public:*": ["subscribe"] })).toEqual({ "*": ["subscribe"] });
    expect(cutToCeiling({ "private:x": ["publish"] }, { "public:*": ["*"] })).toEqual({ "private:x": [] });
    expect(cutToCeiling({ "*": ["*"] }, undefined)).toEqual({ "*": ["*"] });
  });

  it("effective permissions intersect token and ceiling per room", () => {
    const eff = new EffectivePermissions(new Permissions({ "*": ["*"] }), new Permissions({ "public:*": ["subscribe"], "*": ["history"] }));
    expect(eff.maskFor("public:a")).toBe(Cap.subscribe);
    expect(eff.maskFor("private")).toBe(Cap.history);
    expect(eff.can("public:a", "publish")).toBe(false);
  });
});

describe("pattern denial survives the cut", () => {
  it("keeps a pattern cut to nothing so a less specific one cannot take over its rooms", () => {
    const requested = { "a:*": ["publish"], "*": ["subscribe"] };
    const ceiling = { "*": ["subscribe"] };
    const cut = cutToCeiling(requested, ceiling);
    expect(cut).toEqual({ "a:*": [], "*": ["subscribe"] });
    expect(new Permissions(cut).maskFor("a:b")).toBe(0);
    expect(new Permissions(cut).maskFor("b")).toBe(Cap.subscribe);
  });

  it("a role leaves denied patterns denied", () => {
    expect(applyRole({ "a:*": [], "*": ["subscribe"] }, "publisher")).toEqual({
      "a:*": [],
      "*": ["subscribe", "publish", "presence", "history", "metrics"],
    });
  });
});

// ---- property tests -------------------------------------------------------------------------------------------

/** Small alphabets so generated patterns and rooms collide often. */
const LITERALS = ["a", "b", "c"];
const segment = fc.constantFrom(...LITERALS, "*");
const patternArb = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join(":"));
const maskArb = fc.integer({ min: 0, max: ALL_CAPS });
const capsOf = (mask: number): string[] => (mask === ALL_CAPS ? ["*"] : maskToCaps(mask));
const mapArb: fc.Arbitrary<PermissionMap> = fc
  .array(fc.tuple(patternArb, maskArb), { maxLength: 6 })
  .map((entries) => Object.fromEntries(entries.map(([p, m]) => [p, capsOf(m)])));

/** Every room of 1-4 segments over the literals plus one letter no pattern uses. */
const UNIVERSE: string[] = (() => {
  const segs = [...LITERALS, "x"];
  let level = segs.map((s) => [s]);
  const out: string[][] = [...level];
  for (let n = 2; n <= 4; n++) {
    level = level.flatMap((prefix) => segs.map((s) => [...prefix, s]));
    out.push(...level);
  }
  return out.map((s) => s.join(":"));
})();

/** Reference matcher, written independently of the compiled one: `*` is one segment, a final `*` one or more. */
function refMatches(pattern: string, room: string): boolean {
  const body = pattern
    .split(":")
    .map((s, i, all) => (s !== "*" ? s : i === all.length - 1 ? "[^:]+(?::[^:]+)*" : "[^:]+"))
    .join(":");
  return new RegExp(`^${body}$`).test(room);
}

/** Reference specificity: exact beats wildcard; then more segments, more literals, fixed length beats a tail. */
function refRank(pattern: string): [number, number, number, number] {
  const segs = pattern.split(":");
  const exact = pattern.includes("*") ? 0 : 1;
  return [exact, segs.length, segs.filter((s) => s !== "*").length, segs[segs.length - 1] === "*" ? 0 : 1];
}

function refMask(map: PermissionMap, room: string): number {
  let best: { rank: [number, number, number, number]; pattern: string; mask: number } | undefined;
  for (const [pattern, caps] of Object.entries(map)) {
    if (!refMatches(pattern, room)) continue;
    const rank = refRank(pattern);
    const mask = caps.includes("*") ? ALL_CAPS : caps.reduce((m, c) => m | Cap[c as keyof typeof Cap], 0);
    const order = best === undefined ? 1 : compareRank(rank, best.rank);
    if (order > 0 || (order === 0 && best !== undefined && pattern < best.pattern)) best = { rank, pattern, mask };
  }
  return best?.mask ?? 0;
}

function compareRank(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}

describe("pattern matching (property)", () => {
  it("compiled patterns agree with the reference matcher and specificity order on every room", () => {
    fc.assert(
      fc.property(mapArb, (map) => {
        const compiled = new Permissions(map);
        for (const room of UNIVERSE) expect(compiled.maskFor(room)).toBe(refMask(map, room));
      }),
      { numRuns: 300 },
    );
  });

  it("the order patterns are listed in does not matter", () => {
    fc.assert(
      fc.property(mapArb, fc.integer(), (map, seed) => {
        const entries = Object.entries(map);
        const shuffled = [...entries].sort((x, y) => ((x[0].length * 31 + seed) % 7) - ((y[0].length * 31 + seed) % 7));
        const a = new Permissions(map);
        const b = new Permissions(Object.fromEntries(shuffled));
        for (const room of UNIVERSE) expect(b.maskFor(room)).toBe(a.maskFor(room));
      }),
      { numRuns: 100 },
    );
  });

  it("an exact pattern always wins over every wildcard", () => {
    fc.assert(
      fc.property(mapArb, fc.constantFrom(...UNIVERSE), maskArb, (map, room, mask) => {
        expect(new Permissions({ ...map, [room]: capsOf(mask) }).maskFor(room)).toBe(mask);
      }),
      { numRuns: 300 },
    );
  });

  it("patternsOverlap is true exactly when some room matches both", () => {
    fc.assert(
      fc.property(patternArb, patternArb, (a, b) => {
        const witness = UNIVERSE.some((room) => refMatches(a, room) && refMatches(b, room));
        expect(patternsOverlap(a, b)).toBe(witness);
        expect(patternsOverlap(b, a)).toBe(witness);
      }),
      { numRuns: 500 },
    );
  });
});

describe("ceiling intersection (property)", () => {
  const eff = (token: PermissionMap, ceiling: PermissionMap) => new EffectivePermissions(new Permissions(token), new Permissions(ceiling));

  it("the cut never changes what token ∩ ceiling grants on any room, and never adds to the token", () => {
    fc.assert(
      fc.property(mapArb, mapArb, (requested, ceiling) => {
        const cut = cutToCeiling(requested, ceiling);
        expect(Object.keys(cut).sort()).toEqual(Object.keys(requested).sort());
        const before = eff(requested, ceiling);
        const after = eff(cut, ceiling);
        const req = new Permissions(requested);
        const cutP = new Permissions(cut);
        for (const room of UNIVERSE) {
          expect(after.maskFor(room)).toBe(before.maskFor(room));
          expect(cutP.maskFor(room) & ~req.maskFor(room)).toBe(0);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("an exact pattern is cut to the ceiling's grant on that room; a wildcard keeps only what an overlapping ceiling pattern grants", () => {
    fc.assert(
      fc.property(mapArb, mapArb, (requested, ceiling) => {
        const cut = cutToCeiling(requested, ceiling);
        const ceil = new Permissions(ceiling);
        for (const [pattern, caps] of Object.entries(cut)) {
          const mask = new Permissions({ [pattern]: caps }).entries()[0]?.mask ?? 0;
          const asked = new Permissions({ [pattern]: requested[pattern] ?? [] }).entries()[0]?.mask ?? 0;
          if (!pattern.includes("*")) {
            expect(mask).toBe(asked & ceil.maskFor(pattern));
            continue;
          }
          for (const cap of CAPABILITIES) {
            if ((mask & Cap[cap]) === 0) continue;
            const granted = Object.entries(ceiling).some(
              ([q, qCaps]) => patternsOverlap(pattern, q) && (qCaps.includes("*") || qCaps.includes(cap)),
            );
            expect(granted).toBe(true);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it("effective permissions are exactly the per-room intersection and never exceed either side", () => {
    fc.assert(
      fc.property(mapArb, mapArb, (token, ceiling) => {
        const e = eff(token, ceiling);
        const t = new Permissions(token);
        const c = new Permissions(ceiling);
        for (const room of UNIVERSE) expect(e.maskFor(room)).toBe(t.maskFor(room) & c.maskFor(room));
      }),
      { numRuns: 200 },
    );
  });

  it("with a role every room gets the role's capabilities or nothing, before any ceiling", () => {
    fc.assert(
      fc.property(mapArb, fc.constantFrom(...ROLES), (map, role) => {
        const p = new Permissions(applyRole(map, role));
        const original = new Permissions(map);
        for (const room of UNIVERSE) {
          const m = p.maskFor(room);
          expect(m === 0 || m === ROLE_CAPS[role]).toBe(true);
          expect(m === 0).toBe(original.maskFor(room) === 0);
        }
      }),
      { numRuns: 200 },
    );
  });
});
