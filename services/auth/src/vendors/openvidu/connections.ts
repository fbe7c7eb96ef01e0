/**
 * OpenVidu connections: a connection exists (`pending`) from the moment the app creates it, before any socket, so
 * its id and token can be handed out; it is `active` while a socket of it is in the session room. Each is a record
 * in the sessions bucket under its session (KvKeys.sessionConnection; closing the session removes them) holding
 * the OpenVidu properties asked for and its token, sealed at rest like key secrets. The token is a Switchboard
 * session token for room `session:<id>` whose clientId is the connection id, so moderation and revocation by
 * clientId reach exactly this connection's sockets.
 */
import type { KV } from "@nats-io/kv";
import { KvKeys, isWrongLastSequence, type PresenceRecord, type SealedSecret, type SecretBox, hasValue } from "@switchboard/core";

export const OV_ROLES = ["SUBSCRIBER", "PUBLISHER", "MODERATOR"] as const;
export type OvRole = (typeof OV_ROLES)[number];

/** OpenVidu's own properties of a connection, kept as given and shown back (media ones are not acted on). */
export interface OvConnectionProps {
  role: OvRole;
  /** The `data` given at creation (OpenVidu's `serverData`). */
  serverData: string;
  record: boolean;
  kurentoOptions: unknown;
  adaptativeBitrate: boolean;
  onlyPlayWithSubscribers: boolean;
  networkCache: number;
  customIceServers: unknown[];
}

export interface OvConnectionRecord extends OvConnectionProps {
  connectionId: string;
  sessionId: string;
  createdAt: number;
  /** The connect URL, sealed with the master key (aad: the record's key). */
  token: SealedSecret;
  /** Its token's id and expiry (epoch seconds), to revoke exactly it when the token is replaced. */
  jti: string;
  exp: number;
}

export interface OvConnection extends Omit<OvConnectionRecord, "token" | "jti" | "exp"> {
  token: string;
  status: "pending" | "active";
  activeAt: number | null;
}

export class OvConnections {
  constructor(
    private readonly kv: KV,
    private readonly box: SecretBox,
  ) {}

  private key(appId: string, sessionId: string, connectionId: string): string {
    return KvKeys.sessionConnection(appId, sessionId, connectionId);
  }

  /** Stores a new connection with its (plain) token. */
  async create(appId: string, rec: Omit<OvConnectionRecord, "token"> & { token: string }): Promise<void> {
    const key = this.key(appId, rec.sessionId, rec.connectionId);
    await this.kv.create(key, JSON.stringify({ ...rec, token: this.box.seal(rec.token, key) }));
  }

  /** Replaces a connection's record if it did not change since `get` (undefined when it did, or is gone). */
  async update(appId: string, rec: Omit<OvConnectionRecord, "token"> & { token: string }, revision: number): Promise<boolean> {
    const key = this.key(appId, rec.sessionId, rec.connectionId);
    try {
      await this.kv.update(key, JSON.stringify({ ...rec, token: this.box.seal(rec.token, key) }), revision);
      return true;
    } catch (err) {
      if (isWrongLastSequence(err)) return false;
      throw err;
    }
  }

  async get(
    appId: string,
    sessionId: string,
    connectionId: string,
  ): Promise<{ record: OvConnectionRecord; token: string; revision: number } | undefined> {
    const key = this.key(appId, sessionId, connectionId);
    const e = await this.kv.get(key);
    if (!hasValue(e)) return undefined;
    const record = e.json<OvConnectionRecord>();
    return { record, token: this.box.open(record.token, key), revision: e.revision };
  }

  /** Every connection of a session, oldest first. */
  async list(appId: string, sessionId: string): Promise<Array<{ record: OvConnectionRecord; token: string }>> {
    const out: Array<{ record: OvConnectionRecord; token: string }> = [];
    for await (const k of await this.kv.keys(KvKeys.sessionConnections(appId, sessionId))) {
      const c = await this.get(appId, sessionId, k.slice(k.lastIndexOf(".") + 1));
      if (c !== undefined) out.push(c);
    }
    return out.sort((a, b) => a.record.createdAt - b.record.createdAt || (a.record.connectionId < b.record.connectionId ? -1 : 1));
  }

  async remove(appId: string, sessionId: string, connectionId: string): Promise<void> {
    await this.kv.purge(this.key(appId, sessionId, connectionId));
  }
}

/** A connection as OpenVidu shows it: `active` from the first presence member of its clientId (or socket id). */
export function withStatus(record: Omit<OvConnectionRecord, "token">, token: string, members: readonly PresenceRecord[]): OvConnection {
  const { jti: _jti, exp: _exp, ...rest } = record;
  delete (rest as { token?: unknown }).token;
  const member = members.find((m) => m.clientId === rest.connectionId || m.connectionId === rest.connectionId);
  return { ...rest, token, status: member === undefined ? "pending" : "active", activeAt: member?.joinedAt ?? null };
}
