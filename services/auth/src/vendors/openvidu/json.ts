/**
 * OpenVidu's wire shapes (openvidu-node-client 2.32; field requirements measured in shared VENDOR-SDKS.md §1.3):
 * request bodies as TypeBox schemas (every field may be null or missing, as the client sends either), and the
 * session, connection and token JSON it reads. Media-only fields are shown with OpenVidu's defaults: Switchboard
 * carries no media, so a connection never has publishers or subscribers.
 */
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { DATA_MAX } from "@switchboard/protocol";
import type { SessionRecord } from "../../sessions.js";
import { OV_ROLES, type OvConnection } from "./connections.js";

/**
 * `t` or null, as a JSON-schema type list rather than an anyOf: the shared Ajv coerces types, and inside an anyOf
 * it would turn a null into "" (and a false into null) before the right branch is tried.
 */
function nullable<T extends TSchema>(t: T) {
  const { type, enum: values } = t as { type?: unknown; enum?: unknown[] };
  if (typeof type !== "string") throw new Error("nullable() needs a schema with one type");
  const schema = { ...t, type: [type, "null"], ...(values !== undefined ? { enum: [...values, null] } : {}) };
  return Type.Optional(Type.Unsafe<Static<T> | null>(schema));
}
const literals = <const L extends readonly string[]>(values: L) => Type.Unsafe<L[number]>({ type: "string", enum: [...values] });

export const OV_MEDIA_MODES = ["ROUTED", "RELAYED"] as const;
export const OV_RECORDING_MODES = ["MANUAL", "ALWAYS"] as const;
export const OV_VIDEO_CODECS = ["MEDIA_SERVER_PREFERRED", "NONE", "VP8", "VP9", "H264"] as const;
/** The JSON size cap of a session's kept OpenVidu properties (defaultRecordingProperties, mediaNode). */
export const OV_PROPS_MAX_BYTES = 4096;

export const SessionBody = Type.Object(
  {
    mediaMode: nullable(literals(OV_MEDIA_MODES)),
    recordingMode: nullable(literals(OV_RECORDING_MODES)),
    /** "" asks for a generated id (the client always sends the member). */
    customSessionId: nullable(Type.String({ maxLength: 64, pattern: "^[A-Za-z0-9_-]*$" })),
    defaultRecordingProperties: nullable(Type.Object({}, { additionalProperties: true })),
    forcedVideoCodec: nullable(literals(OV_VIDEO_CODECS)),
    allowTranscoding: nullable(Type.Boolean()),
    mediaNode: nullable(Type.Object({ id: Type.String({ maxLength: 256 }) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type SessionBody = Static<typeof SessionBody>;

export const ConnectionBody = Type.Object(
  {
    type: nullable(literals(["WEBRTC", "IPCAM"] as const)),
    data: nullable(Type.String({ maxLength: DATA_MAX })),
    record: nullable(Type.Boolean()),
    role: nullable(literals(OV_ROLES)),
    kurentoOptions: nullable(Type.Object({}, { additionalProperties: true })),
    rtspUri: nullable(Type.String({ maxLength: 2048 })),
    adaptativeBitrate: nullable(Type.Boolean()),
    onlyPlayWithSubscribers: nullable(Type.Boolean()),
    networkCache: nullable(Type.Integer({ minimum: 0 })),
    customIceServers: nullable(Type.Array(Type.Object({}, { additionalProperties: true }), { maxItems: 16 })),
  },
  { additionalProperties: false },
);
export type ConnectionBody = Static<typeof ConnectionBody>;

export const ConnectionPatchBody = Type.Object(
  { role: nullable(literals(OV_ROLES)), record: nullable(Type.Boolean()) },
  { additionalProperties: false },
);
export type ConnectionPatchBody = Static<typeof ConnectionPatchBody>;

export const TokenBody = Type.Object(
  {
    session: Type.String({ minLength: 1, maxLength: 64 }),
    role: nullable(literals(OV_ROLES)),
    data: nullable(Type.String({ maxLength: DATA_MAX })),
    kurentoOptions: nullable(Type.Object({}, { additionalProperties: true })),
  },
  { additionalProperties: false },
);
export type TokenBody = Static<typeof TokenBody>;

export const SessionParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export const ConnectionParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
  cid: Type.String({ minLength: 1, maxLength: 64 }),
});
export const StreamParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
  streamId: Type.String({ minLength: 1, maxLength: 80 }),
});
export const ListQuery = Type.Object(
  { pendingConnections: Type.Optional(Type.Boolean()), webRtcStats: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
export type ListQuery = Static<typeof ListQuery>;

/** The OpenVidu properties of a session kept in its record's metadata (Switchboard keeps mediaMode itself). */
export interface OvSessionProps {
  recordingMode: (typeof OV_RECORDING_MODES)[number];
  customSessionId: string;
  defaultRecordingProperties: Record<string, unknown>;
  forcedVideoCodec: (typeof OV_VIDEO_CODECS)[number];
  allowTranscoding: boolean;
  mediaNode: { id: string } | null;
}

/** The defaults openvidu-node-client itself fills in. */
const DEFAULT_RECORDING_PROPERTIES = {
  name: "",
  hasAudio: true,
  hasVideo: true,
  outputMode: "COMPOSED",
  recordingLayout: "BEST_FIT",
  resolution: "1280x720",
  frameRate: 25,
  shmSize: 536870912,
};

export function sessionProps(body: SessionBody): OvSessionProps {
  return {
    recordingMode: body.recordingMode ?? "MANUAL",
    customSessionId: body.customSessionId ?? "",
    defaultRecordingProperties: body.defaultRecordingProperties ?? DEFAULT_RECORDING_PROPERTIES,
    forcedVideoCodec: body.forcedVideoCodec ?? "MEDIA_SERVER_PREFERRED",
    allowTranscoding: body.allowTranscoding ?? false,
    mediaNode: body.mediaNode ?? null,
  };
}

/** A session's OpenVidu properties: those it was created with, or the defaults for a session made another way. */
function propsOf(s: SessionRecord): OvSessionProps {
  const m = s.metadata as { openvidu?: OvSessionProps } | null;
  return m !== null && typeof m === "object" && m.openvidu !== undefined ? m.openvidu : sessionProps({});
}

export function connectionJson(c: OvConnection) {
  return {
    id: c.connectionId,
    object: "connection",
    type: "WEBRTC",
    status: c.status,
    connectionId: c.connectionId,
    sessionId: c.sessionId,
    createdAt: c.createdAt,
    activeAt: c.activeAt,
    location: null,
    ip: null,
    platform: null,
    token: c.token,
    serverData: c.serverData,
    clientData: null,
    record: c.record,
    role: c.role,
    kurentoOptions: c.kurentoOptions,
    rtspUri: null,
    adaptativeBitrate: c.adaptativeBitrate,
    onlyPlayWithSubscribers: c.onlyPlayWithSubscribers,
    networkCache: c.networkCache,
    customIceServers: c.customIceServers,
    publishers: [],
    subscribers: [],
  };
}

export function sessionJson(s: SessionRecord, connections: OvConnection[]) {
  const p = propsOf(s);
  const content = connections.map(connectionJson);
  return {
    id: s.sessionId,
    object: "session",
    sessionId: s.sessionId,
    createdAt: s.createdAt,
    mediaMode: s.mediaMode === "routed" ? "ROUTED" : "RELAYED",
    recordingMode: p.recordingMode,
    customSessionId: p.customSessionId,
    defaultRecordingProperties: p.defaultRecordingProperties,
    forcedVideoCodec: p.forcedVideoCodec,
    allowTranscoding: p.allowTranscoding,
    ...(p.mediaNode !== null ? { mediaNode: p.mediaNode.id } : {}),
    recording: false,
    broadcasting: false,
    connections: { numberOfElements: content.length, content },
  };
}

/** `POST /openvidu/api/tokens`: the token of the pending connection it created, as OpenVidu shows it. */
export function tokenJson(c: OvConnection) {
  return {
    id: c.token,
    object: "token",
    token: c.token,
    connectionId: c.connectionId,
    createdAt: c.createdAt,
    session: c.sessionId,
    role: c.role,
    data: c.serverData,
    kurentoOptions: c.kurentoOptions,
  };
}
