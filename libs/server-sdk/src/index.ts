/** @switchboard/server — the server SDK (README.md#sdks). */
export { Switchboard, DEFAULT_URLS } from "./switchboard.js";
export type {
  BatchMessage,
  BatchResult,
  ChatToken,
  ChatTokenOptions,
  CreateSessionOptions,
  PubSubMessage,
  PubSubScope,
  PublishOptions,
  SwitchboardOptions,
  TokenOptions,
} from "./switchboard.js";
export { Session } from "./session.js";
export type { DisconnectTarget, SessionInfo, SessionTokenOptions } from "./session.js";
export { ChatCapability, Days30, Hours1, Hours2, Hours24, SessionRole, Weeks1 } from "./styles.js";
export type { ChatCapabilityName, SessionRoleName } from "./styles.js";
export { SwitchboardError } from "@switchboard/protocol";
export type { ErrorCode, PublishResult, TokenResponse } from "@switchboard/protocol";
