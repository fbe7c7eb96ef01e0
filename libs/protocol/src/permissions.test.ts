import { describe, expect, it } from "vitest";
import { ALL_CAPS, Cap, EffectivePermissions, Permissions, ROLE_CAPS, applyRole, cutToCeiling, isValidPattern, patternsOverlap } from "./permissions.js";

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
    expect(applyRole({ "session:1": ["*"], "x": ["moderate"] }, "subscriber")).toEqual({
      "session:1": ["subscribe", "presence", "history", "metrics"],
      x: ["subscribe", "presence", "history", "metrics"],
    });
    expect(ROLE_CAPS.publisher & Cap.publish).toBe(Cap.publish);
    expect(ROLE_CAPS.moderator & Cap.moderate).toBe(Cap.moderate);
    expect(ROLE_CAPS.subscriber & Cap.publish).toBe(0);
  });

  it("cuts requested permissions to the key ceiling", () => {
    expect(cutToCeiling({ "*": ["*"] }, { "public:*": ["subscribe"] })).toEqual({ "*": ["subscribe"] });
    expect(cutToCeiling({ "private:x": ["publish"] }, { "public:*": ["*"] })).toEqual({});
    expect(cutToCeiling({ "*": ["*"] }, undefined)).toEqual({ "*": ["*"] });
  });

  it("effective permissions intersect token and ceiling per room", () => {
    const eff = new EffectivePermissions(new Permissions({ "*": ["*"] }), new Permissions({ "public:*": ["subscribe"], "*": ["history"] }));
    expect(eff.maskFor("public:a")).toBe(Cap.subscribe);
    expect(eff.maskFor("private")).toBe(Cap.history);
    expect(eff.can("public:a", "publish")).toBe(false);
  });
});
