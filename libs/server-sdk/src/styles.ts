/**
 * Vocabulary of the Tokbox/OpenVidu and IVS styles mapped onto Switchboard roles and capabilities.
 */
import { SwitchboardError, type Capability } from "@switchboard/protocol";

/** Token durations in seconds, for `token(…, expiration)` (Tokbox style). */
export const Hours1 = 3600;
export const Hours2 = 2 * 3600;
export const Hours24 = 24 * 3600;
export const Weeks1 = 7 * 24 * 3600;
export const Days30 = 30 * 24 * 3600;

/** Session roles; lower case is accepted too. */
export const SessionRole = { SUBSCRIBER: "SUBSCRIBER", PUBLISHER: "PUBLISHER", MODERATOR: "MODERATOR" } as const;
export type SessionRoleName = keyof typeof SessionRole | "subscriber" | "publisher" | "moderator";
export const DEFAULT_SESSION_ROLE = SessionRole.PUBLISHER;

export const ChatCapability = {
  SEND_MESSAGE: "SEND_MESSAGE",
  DELETE_MESSAGE: "DELETE_MESSAGE",
  DISCONNECT_USER: "DISCONNECT_USER",
} as const;
export type ChatCapabilityName = keyof typeof ChatCapability;

/** Reading (subscribe, presence, history) is implicit; SEND_MESSAGE → publish; DELETE_MESSAGE, DISCONNECT_USER → moderate. */
export function chatCapabilities(capabilities: readonly string[]): Capability[] {
  const caps = new Set<Capability>(["subscribe", "presence", "history"]);
  for (const c of capabilities) {
    if (c === ChatCapability.SEND_MESSAGE) caps.add("publish");
    else if (c === ChatCapability.DELETE_MESSAGE || c === ChatCapability.DISCONNECT_USER) caps.add("moderate");
    else
      throw new SwitchboardError(
        "bad_request",
        `unknown chat capability ${JSON.stringify(c)}; use ${Object.keys(ChatCapability).join(", ")}`,
      );
  }
  return [...caps];
}

export const DEFAULT_CHAT_SESSION_MINUTES = 60;
