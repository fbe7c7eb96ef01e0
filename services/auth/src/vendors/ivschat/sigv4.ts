/**
 * AWS Signature Version 4 verification, generic (shared VENDOR-SDKS.md §3.2): the canonical request is rebuilt from
 * the headers the request itself lists in SignedHeaders (never a fixed list: it changes with SDK versions and with a
 * session token), the body hash is computed from the bytes received (a differing x-amz-content-sha256 is refused),
 * the date must be within ±15 minutes, and a session token (x-amz-security-token) must be among the signed headers.
 * Service and region come from the credential scope; the caller says which service it serves. No I/O: the secret of
 * an access key comes from a lookup the caller provides. Pure functions over a request description, so the unit
 * tests run the captured SDK request through it.
 */
import { createHash, createHmac } from "node:crypto";
import { constantTimeEqual } from "@switchboard/core";

export const SIGV4_ALGORITHM = "AWS4-HMAC-SHA256";
/** AWS services accept requests whose x-amz-date is within this of their clock. */
export const MAX_SKEW_MS = 15 * 60 * 1000;

export interface SignedRequest {
  method: string;
  /** The path as received, still percent-encoded, without the query. */
  path: string;
  /** The raw query string (after `?`), "" when none. */
  query: string;
  /** Header name (lower case) → every value received for it, in order. */
  headers: ReadonlyMap<string, readonly string[]>;
  body: Buffer;
}

export interface VerifiedSigV4 {
  accessKeyId: string;
  region: string;
  service: string;
  /** x-amz-security-token when the request carried one (signed). */
  sessionToken: string | undefined;
}

export type SigV4Failure = "missing" | "incomplete" | "unknown_key" | "bad_signature" | "expired" | "wrong_service" | "body_hash";

export class SigV4Error extends Error {
  override readonly name = "SigV4Error";
  constructor(
    readonly reason: SigV4Failure,
    /** The AWS error type a client expects for it. */
    readonly awsType:
      "MissingAuthenticationTokenException" | "IncompleteSignatureException" | "UnrecognizedClientException" | "InvalidSignatureException",
    message: string,
  ) {
    super(message);
  }
}

const sha256Hex = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");
const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data).digest();

/** RFC 3986 encoding as SigV4 wants it (unreserved characters kept, everything else %XX upper case). */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, "%20"));
  } catch {
    return s;
  }
}

/** Each path segment encoded once more, as the AWS SDK signs non-S3 services (the sent path is already encoded). */
export function canonicalUri(path: string): string {
  if (path === "") return "/";
  return path
    .split("/")
    .map((seg) => uriEncode(seg))
    .join("/");
}

export function canonicalQuery(query: string): string {
  if (query === "") return "";
  return query
    .split("&")
    .filter((p) => p !== "")
    .map((p) => {
      const eq = p.indexOf("=");
      const k = eq < 0 ? p : p.slice(0, eq);
      const v = eq < 0 ? "" : p.slice(eq + 1);
      return [uriEncode(safeDecode(k)), uriEncode(safeDecode(v))] as const;
    })
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

interface Authorization {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

function parseAuthorization(value: string | undefined): Authorization {
  if (value === undefined) throw new SigV4Error("missing", "MissingAuthenticationTokenException", "Missing Authentication Token");
  const incomplete = (why: string) =>
    new SigV4Error(
      "incomplete",
      "IncompleteSignatureException",
      `Authorization header is not a valid ${SIGV4_ALGORITHM} signature: ${why}`,
    );
  if (!value.startsWith(`${SIGV4_ALGORITHM} `)) throw incomplete(`it must start with ${SIGV4_ALGORITHM}`);
  const fields = new Map<string, string>();
  for (const part of value.slice(SIGV4_ALGORITHM.length + 1).split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get("Credential");
  const signed = fields.get("SignedHeaders");
  const signature = fields.get("Signature");
  if (credential === undefined || signed === undefined || signature === undefined)
    throw incomplete("Credential, SignedHeaders and Signature are required");
  const scope = credential.split("/");
  if (scope.length !== 5 || scope[4] !== "aws4_request")
    throw incomplete("Credential must be <key>/<date>/<region>/<service>/aws4_request");
  const [accessKeyId, date, region, service] = scope as [string, string, string, string];
  if (!/^\d{8}$/.test(date) || accessKeyId === "" || region === "" || service === "") throw incomplete("malformed Credential scope");
  if (!/^[0-9a-f]{64}$/.test(signature)) throw incomplete("Signature must be 64 hex characters");
  const signedHeaders = signed.split(";");
  if (signedHeaders.some((h) => h === "" || h !== h.toLowerCase()) || !signedHeaders.includes("host"))
    throw incomplete("SignedHeaders must be lower-case names and include host");
  return { accessKeyId, date, region, service, signedHeaders, signature };
}

/** 20261125T114221Z → epoch ms (undefined when malformed). */
function amzDateMs(v: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(v);
  if (m === null) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isNaN(ms) ? undefined : ms;
}

function formatAmzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

/**
 * Verifies `req`'s SigV4 signature for `service`. `secretOf` gives an access key's secret (undefined: unknown).
 * Throws SigV4Error naming what is wrong, with the AWS error type to answer.
 */
export async function verifySigV4(
  req: SignedRequest,
  service: string,
  secretOf: (accessKeyId: string) => Promise<string | undefined> | string | undefined,
  nowMs: number = Date.now(),
): Promise<VerifiedSigV4> {
  const header = (name: string) => req.headers.get(name);
  const auth = parseAuthorization(header("authorization")?.[0]);
  const bad = (message: string) => new SigV4Error("bad_signature", "InvalidSignatureException", message);
  if (auth.service !== service)
    throw new SigV4Error("wrong_service", "InvalidSignatureException", `Credential should be scoped to correct service: '${service}'.`);
  const amzDate = header("x-amz-date")?.[0];
  if (amzDate === undefined || !auth.signedHeaders.includes("x-amz-date")) throw bad("x-amz-date must be sent and signed");
  const at = amzDateMs(amzDate);
  if (at === undefined) throw bad(`x-amz-date ${JSON.stringify(amzDate)} is not a yyyyMMddTHHmmssZ date`);
  if (amzDate.slice(0, 8) !== auth.date) throw bad("Credential should be scoped to a valid date: the date of x-amz-date");
  const token = header("x-amz-security-token")?.[0];
  if (token !== undefined && !auth.signedHeaders.includes("x-amz-security-token")) throw bad("x-amz-security-token must be signed");
  for (const name of auth.signedHeaders) if (header(name) === undefined) throw bad(`signed header ${name} is missing from the request`);

  const bodyHash = sha256Hex(req.body);
  const claimed = header("x-amz-content-sha256")?.[0];
  if (claimed !== undefined && claimed !== "UNSIGNED-PAYLOAD" && claimed !== bodyHash)
    throw new SigV4Error("body_hash", "InvalidSignatureException", "The provided x-amz-content-sha256 does not match the body received");

  const secret = await secretOf(auth.accessKeyId);
  if (secret === undefined)
    throw new SigV4Error("unknown_key", "UnrecognizedClientException", "The security token included in the request is invalid.");

  const canonicalHeaders = auth.signedHeaders
    .map((name) => `${name}:${(header(name) ?? []).map((v) => v.trim().replace(/\s+/g, " ")).join(",")}\n`)
    .join("");
  const canonical = [
    req.method.toUpperCase(),
    canonicalUri(req.path),
    canonicalQuery(req.query),
    canonicalHeaders,
    auth.signedHeaders.join(";"),
    bodyHash,
  ].join("\n");
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const stringToSign = `${SIGV4_ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
  const kDate = hmac(`AWS4${secret}`, auth.date);
  const kSigning = hmac(hmac(hmac(kDate, auth.region), auth.service), "aws4_request");
  const expected = createHmac("sha256", kSigning).update(stringToSign).digest("hex");
  if (!constantTimeEqual(expected, auth.signature))
    throw bad(
      "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
    );
  // Checked after the signature, so only a real clock difference is reported as one.
  if (Math.abs(nowMs - at) > MAX_SKEW_MS)
    throw new SigV4Error(
      "expired",
      "InvalidSignatureException",
      `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(nowMs - MAX_SKEW_MS)} (${formatAmzDate(nowMs)} - 15 min.)`,
    );
  return { accessKeyId: auth.accessKeyId, region: auth.region, service: auth.service, sessionToken: token };
}

/** Header name → values from Node's rawHeaders (every occurrence, in order). */
export function headersFromRaw(raw: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const list = out.get(name);
    if (list === undefined) out.set(name, [raw[i + 1] as string]);
    else list.push(raw[i + 1] as string);
  }
  return out;
}
