/**
 * The protocol-adapter seam: everything the gateway knows of a wire protocol. An adapter decodes a client frame into
 * a request (the protocol's own request types mapped onto ClientRequest) and encodes what the gateway sends: the
 * greeting, replies and errors, and pushes. The gateway picks one adapter per socket at upgrade; sockets, dispatch,
 * handlers and the room hub are the same for every adapter. The native protocol (docs/PROTOCOL.md) is the first;
 * the IVS chat protocol (adapters/ivs.ts, docs/VENDORS.md) the second, selected by the upgrade's path, with its own
 * uWS topics (`topic`) so that each room message is encoded once per adapter in use. A protocol whose requests are
 * not native requests (IVS) is served by its own module (ivs/requests.ts) and uses `decode`/`reply` not at all.
 *
 * The message push is the fan-out hot path: `message` is called once per room message (not per socket) and must
 * build its frame by concatenation, without parsing the body.
 */
import type { ClientRequest, ConnectedFrame, RequestType, ResultOf, SwitchboardError } from "@switchboard/protocol";

export type PresenceAction = "join" | "update" | "leave";

export interface ProtocolAdapter {
  /** Names the adapter in logs and metrics. */
  readonly name: string;
  /** One client frame → a request; throws FrameError (with the request id when one was readable) otherwise. */
  decode(frame: ArrayBuffer): ClientRequest;
  /** The first frame on a new socket (undefined: the protocol has none). */
  connected(info: Omit<ConnectedFrame, "type">): string | undefined;
  /** The uWS topic of a room's every-event stream (the room's key, topics.ts topicAll) for sockets of this protocol. */
  topic(roomKey: string): string;
  /** The `ok` reply to request `id` of type K. */
  reply<K extends RequestType>(id: number, type: K, result: ResultOf<K>): string;
  /** An error reply (`id` null when the frame had no readable id). */
  error(id: number | null, err: SwitchboardError): string;
  /** A room message from its stored body (libs/core envelope.ts encodeBody), once per room: the hot path. */
  message(roomJson: string, offset: number, body: string): string;
  /** A presence change; `memberJson` is the member as JSON, serialized once per room. */
  presence(roomJson: string, action: PresenceAction, memberJson: string): string;
  /** A moderator deleted message `id` of `room`. */
  deleted(room: string, id: string): string;
  /** An unstored signal to this one socket (docs/PROTOCOL.md `signal`; from an OpenTok signal to a connection). */
  signal(room: string, event: string, data: unknown): string;
  /** The server ended the socket's subscription to `room` (a refresh removed the permission). */
  unsubscribed(room: string, reason: string): string;
  /** The token expires at `expiresAt` (epoch ms): refresh now (undefined: the protocol has no such push). */
  tokenExpiring(expiresAt: number): string | undefined;
  /** A frame sent just before the server closes the socket with `code` (undefined: none). */
  closing(code: number, reason: string): string | undefined;
}
