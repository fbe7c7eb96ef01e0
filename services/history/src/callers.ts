/**
 * Who reads history: an API key of an app reads that app's rooms; a token (Bearer JWT) reads the rooms where it has
 * the capability a route asks for. The app is always the key's or the token's, so nobody reads another app's data.
 * The Authorization header is read with libs/core's parsers (authorization.ts), as every service reads it.
 */
import { SwitchboardError, type Capability, type EffectivePermissions } from "@switchboard/protocol";
import { bearerTokenOf, verifyToken, type KeyRegistry, type RevocationRegistry } from "@switchboard/core";

export interface Caller {
  appId: string;
  /** Undefined for an API key (every room of its app). */
  permissions: EffectivePermissions | undefined;
}

export interface Callers {
  /** The caller an Authorization header names; throws `unauthorized` when it names none. */
  of(header: string | undefined): Promise<Caller>;
}

/** A bearer value with a `:` is an API key (`appId.keyId:secret`), anything else a token. */
export function createCallers(keys: KeyRegistry, revocations: RevocationRegistry): Callers {
  return {
    of: async (header) => {
      const bearer = bearerTokenOf(header);
      if (bearer !== undefined && !bearer.includes(":")) {
        const v = await verifyToken(bearer, { keys, revocations });
        return { appId: v.key.appId, permissions: v.permissions };
      }
      return { appId: (await keys.authenticate(header)).appId, permissions: undefined };
    },
  };
}

/** The caller's app, when it may read `room` with one of `caps` (an API key always may); throws 403 otherwise. */
export function appReading(caller: Caller, room: string, caps: readonly Capability[]): string {
  const p = caller.permissions;
  if (p !== undefined && !caps.some((cap) => p.can(room, cap)))
    throw new SwitchboardError("unauthorized", `token lacks the ${caps.join(" or ")} capability on room ${room}`, { status: 403 });
  return caller.appId;
}
