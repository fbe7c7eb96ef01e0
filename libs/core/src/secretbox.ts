/**
 * Key secrets at rest (docs/HTTP-API.md): sealed with AES-256-GCM under the master key (SWITCHBOARD_MASTER_KEY), with the
 * key id as additional data so a sealed secret cannot be moved to another key. Secrets are never logged.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import type { Logger } from "./logger.js";

export interface SealedSecret {
  v: 1;
  iv: string;
  tag: string;
  data: string;
}

/** Used only when SWITCHBOARD_MASTER_KEY is unset; the service logs a warning saying so. */
export const DEV_MASTER_KEY = createHash("sha256").update("switchboard development master key - not for production").digest();

export class SecretBox {
  constructor(private readonly masterKey: Buffer) {
    if (masterKey.length !== 32) throw new Error("master key must be 32 bytes");
  }

  seal(secret: string, aad: string): SealedSecret {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.masterKey, iv);
    cipher.setAAD(Buffer.from(aad));
    const data = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
    return { v: 1, iv: iv.toString("base64url"), tag: cipher.getAuthTag().toString("base64url"), data: data.toString("base64url") };
  }

  open(sealed: SealedSecret, aad: string): string {
    const decipher = createDecipheriv("aes-256-gcm", this.masterKey, Buffer.from(sealed.iv, "base64url"));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(Buffer.from(sealed.tag, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(sealed.data, "base64url")), decipher.final()]).toString("utf8");
  }
}

export function resolveMasterKey(configured: Buffer | undefined, log: Logger): Buffer {
  if (configured !== undefined) return configured;
  log.warn("SWITCHBOARD_MASTER_KEY is not set: key secrets use the built-in development key; set it in production");
  return DEV_MASTER_KEY;
}

/** 32 random bytes, base64url (43 characters). */
export function generateSecret(): string {
  return randomBytes(32).toString("base64url");
}
