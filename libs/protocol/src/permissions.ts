/**
 * Capabilities, roles and room patterns (docs/HTTP-API.md).
 *
 * A pattern is a room name whose `:`-separated segments may be `*`: a `*` matches exactly one segment, and a final
 * `*` matches one or more. When several patterns match a room the most specific wins: an exact pattern first, then
 * the one with more segments, then the one with more literal segments; the bare `*` matches every room and is last.
 * Patterns are compiled once (per token, per connection) so each check is a map lookup or a short scan.
 */
import { SwitchboardError } from "./errors.js";

export const CAPABILITIES = ["subscribe", "publish", "presence", "history", "metrics", "moderate"] as const;
export type Capability = (typeof CAPABILITIES)[number];

export const Cap: Readonly<Record<Capability, number>> = {
  subscribe: 1,
  publish: 2,
  presence: 4,
  history: 8,
  metrics: 16,
  moderate: 32,
};
export const ALL_CAPS = 63;

export const ROLES = ["subscriber", "publisher", "moderator"] as const;
export type Role = (typeof ROLES)[number];

const SUBSCRIBER = Cap.subscribe | Cap.presence | Cap.history | Cap.metrics;
export const ROLE_CAPS: Readonly<Record<Role, number>> = {
  subscriber: SUBSCRIBER,
  publisher: SUBSCRIBER | Cap.publish,
  moderator: SUBSCRIBER | Cap.publish | Cap.moderate,
};

/** `{ "<room pattern>": ["subscribe", ...] | ["*"] }` as carried in tokens and key ceilings. */
export type PermissionMap = Record<string, string[]>;

export const DEFAULT_PERMISSIONS: PermissionMap = Object.freeze({ "*": ["*"] });

const PATTERN_RE = /^[A-Za-z0-9_\-:@=+,;~!*]{1,128}$/;

export function isValidPattern(pattern: string): boolean {
  if (!PATTERN_RE.test(pattern)) return false;
  // `*` may only stand as a whole segment.
  for (const segment of pattern.split(":")) {
    if (segment.length === 0) return false;
    if (segment.includes("*") && segment !== "*") return false;
  }
  return true;
}

export function capsToMask(caps: readonly string[], where: string): number {
  let mask = 0;
  for (const cap of caps) {
    if (cap === "*") mask |= ALL_CAPS;
    else if (cap in Cap) mask |= Cap[cap as Capability];
    else
      throw new SwitchboardError(
        "bad_request",
        `${where}: unknown capability ${JSON.stringify(cap)}; use ${CAPABILITIES.join(", ")} or "*"`,
      );
  }
  return mask;
}

export function maskToCaps(mask: number): Capability[] {
  if ((mask & ALL_CAPS) === ALL_CAPS) return [...CAPABILITIES];
  return CAPABILITIES.filter((cap) => (mask & Cap[cap]) !== 0);
}

interface CompiledPattern {
  pattern: string;
  segments: string[];
  /** Final `*` matching one or more segments. */
  tail: boolean;
  mask: number;
}

/** Permissions compiled for cheap checks: exact rooms in a map, wildcards sorted most specific first. */
export class Permissions {
  private readonly exact = new Map<string, number>();
  private readonly wildcards: CompiledPattern[] = [];

  constructor(map: PermissionMap, where = "permissions") {
    for (const [pattern, caps] of Object.entries(map)) {
      if (!isValidPattern(pattern))
        throw new SwitchboardError(
          "bad_request",
          `${where}: invalid room pattern ${JSON.stringify(pattern)}; use room characters with ':' segments and '*' as a whole segment`,
        );
      if (!Array.isArray(caps))
        throw new SwitchboardError("bad_request", `${where}[${JSON.stringify(pattern)}] must be an array of capabilities`);
      const mask = capsToMask(caps, `${where}[${JSON.stringify(pattern)}]`);
      if (!pattern.includes("*")) {
        this.exact.set(pattern, mask);
        continue;
      }
      const segments = pattern.split(":");
      this.wildcards.push({ pattern, segments, tail: segments[segments.length - 1] === "*", mask });
    }
    this.wildcards.sort(compareSpecificity);
  }

  /** Capability mask granted on `room` (0 when no pattern matches). */
  maskFor(room: string): number {
    const exact = this.exact.get(room);
    if (exact !== undefined) return exact;
    if (this.wildcards.length === 0) return 0;
    const segments = room.split(":");
    for (const w of this.wildcards) if (matchSegments(w, segments)) return w.mask;
    return 0;
  }

  can(room: string, cap: Capability): boolean {
    return (this.maskFor(room) & Cap[cap]) !== 0;
  }

  /** Every pattern with its mask, most specific first (exact patterns first). */
  entries(): Array<{ pattern: string; mask: number }> {
    return [
      ...[...this.exact].map(([pattern, mask]) => ({ pattern, mask })),
      ...this.wildcards.map(({ pattern, mask }) => ({ pattern, mask })),
    ];
  }
}

function compareSpecificity(a: CompiledPattern, b: CompiledPattern): number {
  if (a.segments.length !== b.segments.length) return b.segments.length - a.segments.length;
  const literals = (p: CompiledPattern) => p.segments.filter((s) => s !== "*").length;
  const diff = literals(b) - literals(a);
  if (diff !== 0) return diff;
  // A fixed-length pattern is more specific than one ending in a multi-segment tail.
  if (a.tail !== b.tail) return a.tail ? 1 : -1;
  return a.pattern < b.pattern ? -1 : a.pattern > b.pattern ? 1 : 0;
}

function matchSegments(p: CompiledPattern, room: string[]): boolean {
  const n = p.segments.length;
  if (p.tail ? room.length < n : room.length !== n) return false;
  for (let i = 0; i < n; i++) {
    const s = p.segments[i];
    if (s !== "*" && s !== room[i]) return false;
  }
  return true;
}

/** Whether some room could match both patterns (used to cut a token's permissions down to a key's ceiling). */
export function patternsOverlap(a: string, b: string): boolean {
  const as = a.split(":");
  const bs = b.split(":");
  const aTail = as[as.length - 1] === "*";
  const bTail = bs[bs.length - 1] === "*";
  const common = Math.min(as.length, bs.length);
  for (let i = 0; i < common; i++) {
    const x = as[i];
    const y = bs[i];
    if (x !== "*" && y !== "*" && x !== y) return false;
  }
  if (as.length === bs.length) return true;
  // The shorter one must absorb the extra segments with its final `*`.
  return as.length < bs.length ? aTail : bTail;
}

/**
 * Cuts requested permissions down to a key's ceiling at issuance: each requested pattern keeps only capabilities
 * that some overlapping ceiling pattern grants. The gateway applies the exact per-room intersection of token and
 * ceiling at check time, so this is the visible part of the rule, not the only guard.
 *
 * A pattern cut to nothing stays, as `[]`: dropping it would let a less specific pattern of the same token take
 * over its rooms and grant what the request denied there (`{"a:*": ["publish"], "*": ["subscribe"]}` under a
 * subscribe-only ceiling must not give `subscribe` on `a:b`). So for every room, token ∩ ceiling is the same
 * before and after the cut (checked by a property test).
 */
export function cutToCeiling(requested: PermissionMap, ceiling: PermissionMap | undefined): PermissionMap {
  if (ceiling === undefined) return requested;
  const compiled = new Permissions(ceiling, "key ceiling");
  const ceil = compiled.entries();
  const out: PermissionMap = {};
  for (const [pattern, caps] of Object.entries(requested)) {
    // An exact room gets exactly the ceiling's grant there; a wildcard what any overlapping ceiling pattern grants.
    let allowed = 0;
    if (!pattern.includes("*")) allowed = compiled.maskFor(pattern);
    else for (const c of ceil) if (patternsOverlap(pattern, c.pattern)) allowed |= c.mask;
    const mask = capsToMask(caps, `permissions[${JSON.stringify(pattern)}]`) & allowed;
    out[pattern] = mask === ALL_CAPS ? ["*"] : maskToCaps(mask);
  }
  return out;
}

/**
 * Applies a role: every permitted pattern gets exactly the role's capabilities; a pattern granting nothing (`[]`)
 * keeps granting nothing, so it still shadows less specific patterns.
 */
export function applyRole(map: PermissionMap, role: Role): PermissionMap {
  const caps = maskToCaps(ROLE_CAPS[role]);
  const out: PermissionMap = {};
  for (const [pattern, given] of Object.entries(map)) out[pattern] = given.length === 0 ? [] : [...caps];
  return out;
}

/** Effective permissions on a connection: the token's, cut per room by the key's ceiling when it has one. */
export class EffectivePermissions {
  constructor(
    private readonly token: Permissions,
    private readonly ceiling: Permissions | undefined,
  ) {}

  maskFor(room: string): number {
    const mask = this.token.maskFor(room);
    return this.ceiling === undefined ? mask : mask & this.ceiling.maskFor(room);
  }

  can(room: string, cap: Capability): boolean {
    return (this.maskFor(room) & Cap[cap]) !== 0;
  }
}
