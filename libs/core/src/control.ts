/**
 * Control commands carried on `sb.ctl.<app>` (Subjects.control) to every gateway: moderation from HTTP or from a
 * moderator socket, session close. A command sent as a NATS request is answered by each gateway with
 * `{affected}` (sockets or subscriptions it acted on), so the sender can sum the replies.
 */

export type ControlTarget = { clientId: string } | { connectionId: string };

export type ControlCommand =
  | ({ op: "disconnect"; room?: string; reason?: string } & ControlTarget)
  | ({ op: "mute" | "unmute"; room: string } & ControlTarget)
  | { op: "delete"; room: string; messageId: string; offset: number }
  | { op: "session.close"; sessionId: string };

export interface ControlReply {
  affected: number;
}
