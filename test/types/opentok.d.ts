/** The part of the untyped `opentok` 2.23 package (CommonJS) that the vendor tests use. */
declare module "opentok" {
  interface Session {
    sessionId: string;
    mediaMode: string;
    archiveMode: string;
    location?: string;
  }
  type Callback<T> = (err: Error | null, value?: T) => void;
  class OpenTok {
    constructor(apiKey: string, apiSecret: string, env?: string | { apiUrl: string; timeout?: number });
    createSession(
      opts: { mediaMode?: "routed" | "relayed"; archiveMode?: "manual" | "always"; location?: string },
      cb: Callback<Session>,
    ): void;
    generateToken(
      sessionId: string,
      opts?: { role?: string; data?: string; expireTime?: number; initialLayoutClassList?: string[] },
      t1?: boolean,
    ): string;
    signal(sessionId: string, connectionId: string | null, payload: { type?: string; data: string }, cb: (err: Error | null) => void): void;
    forceDisconnect(sessionId: string, connectionId: string, cb: (err: Error | null) => void): void;
    generateJwt(): string;
  }
  export = OpenTok;
}

declare module "opentok/lib/errors.js" {
  export class AuthError extends Error {}
  export class NotFoundError extends Error {}
  export class SignalError extends Error {}
  export class ForceDisconnectError extends Error {}
  export class RequestError extends Error {}
}
