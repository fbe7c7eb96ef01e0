/**
 * Revocations on the gateway (docs/HTTP-API.md): when the revocations bucket gains an entry (a jti, a clientId, a
 * closed session), every local socket whose token it refuses is closed with 4004 at once. The watch delivers the
 * entry within milliseconds of the auth service writing it, well inside the contract's 5 s.
 */
import { CloseCode } from "@switchboard/protocol";
import { RevocationRegistry } from "@switchboard/core";
import type { Conn } from "./connection.js";

const REASONS = {
  jti: "token revoked",
  client: "client revoked",
  session: "session closed",
} as const;

export interface SocketCloser {
  closeWhere(pred: (c: Conn) => boolean, code: number, reason: string): number;
}

/** Closes matching sockets on every new or changed revocation entry. */
export function closeRevokedSockets(gateway: SocketCloser, revocations: RevocationRegistry): void {
  revocations.onRevoke((key) => {
    const parsed = RevocationRegistry.parseKey(key);
    if (parsed === undefined) return;
    gateway.closeWhere(
      (c) => c.appId === parsed.app && c.refuse === undefined && revocations.isRevoked(c.appId, c.claims),
      CloseCode.KICKED,
      REASONS[parsed.kind],
    );
  });
}
