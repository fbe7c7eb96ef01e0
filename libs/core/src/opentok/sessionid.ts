/**
 * OpenTok session ids. The `opentok` SDK decodes a session id locally before it signs a client token for it, and
 * refuses unless the id embeds its apiKey (shared VENDOR-SDKS.md §2.4): drop 2 characters, base64-decode (`-`/`_`
 * as `+`/`/`), split on `~`, field 1 must equal the apiKey. Switchboard mints ids of that shape,
 * `1_` + base64url(`1~<apiKey>~<location>~~<random>~~`), short enough to be a Switchboard session id (≤ 64
 * characters, A-Z a-z 0-9 _ -): the apiKey (`appId.keyId`) may be at most 31 characters.
 */
import { isValidId, randomId } from "@switchboard/protocol";

/** The longest apiKey whose session ids stay within a session id's 64 characters. */
export const OPENTOK_API_KEY_MAX = 31;

/** A new session id embedding `apiKey`; undefined when the apiKey is too long for one. */
export function mintSessionId(apiKey: string): string | undefined {
  if (apiKey.length > OPENTOK_API_KEY_MAX || apiKey.includes("~")) return undefined;
  const id = `1_${Buffer.from(`1~${apiKey}~~~${randomId(6)}~~`, "latin1").toString("base64url")}`;
  return isValidId(id) ? id : undefined;
}

/** The apiKey a session id embeds, decoded as the SDK decodes it; undefined when it is not an OpenTok id. */
export function apiKeyOfSessionId(sessionId: string): string | undefined {
  if (sessionId.length < 3) return undefined;
  const body = sessionId.slice(2).replace(/-/g, "+").replace(/_/g, "/");
  if (!/^[A-Za-z0-9+/]+=*$/.test(body)) return undefined;
  const fields = Buffer.from(body, "base64").toString("latin1").split("~");
  return fields.length >= 2 && fields[1] !== "" ? fields[1] : undefined;
}
