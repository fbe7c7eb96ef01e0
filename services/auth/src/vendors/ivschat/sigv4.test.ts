/**
 * The SigV4 verifier against the request @aws-sdk/client-ivschat 3.952 signed (shared VENDOR-SDKS.md §3.2 and
 * appendix), and the attacks: a changed body, header, secret, date, region or service.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SigV4Error, canonicalQuery, canonicalUri, verifySigV4, type SignedRequest } from "./sigv4.js";

const AKID = "AKIDSWITCHBOARDTEST1";
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const BODY =
  '{"roomIdentifier":"arn:aws:ivschat:us-west-2:123456789012:room/g1H2I3j4k5L6","userId":"user-42","capabilities":["SEND_MESSAGE","DELETE_MESSAGE","DISCONNECT_USER"],"sessionDurationInMinutes":120,"attributes":{"displayName":"Alice","avatar":"x.png"}}';
const SIGNED = "amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-user-agent";
const SIGNATURE = "d92b5646442a6c7c9980c09655668fd47a0f321d9ccffac621b79e63d4e9f592";
const AT = Date.UTC(2026, 10, 25, 11, 42, 21);

function request(over: { headers?: Record<string, string>; body?: string; authorization?: string } = {}): SignedRequest {
  const headers: Record<string, string> = {
    authorization: `AWS4-HMAC-SHA256 Credential=${AKID}/20261125/us-west-2/ivschat/aws4_request, SignedHeaders=${SIGNED}, Signature=${SIGNATURE}`,
    "amz-sdk-invocation-id": "57d8578a-05e0-4637-9eab-162153e0d7a2",
    "amz-sdk-request": "attempt=1; max=1",
    "content-length": "248",
    "content-type": "application/json",
    host: "127.0.0.1:37643",
    "x-amz-content-sha256": "8e6722ef0dea4a3917388cb90a3b00ec8c826217fd2575d5b3883f4d2aa53cc8",
    "x-amz-date": "20261125T114221Z",
    "x-amz-user-agent": "aws-sdk-js/3.952.0",
    ...over.headers,
  };
  if (over.authorization !== undefined) headers["authorization"] = over.authorization;
  return {
    method: "POST",
    path: "/CreateChatToken",
    query: "",
    headers: new Map(Object.entries(headers).map(([k, v]) => [k, [v]])),
    body: Buffer.from(over.body ?? BODY),
  };
}

const secretOf = (k: string) => (k === AKID ? SECRET : undefined);

async function failure(req: SignedRequest, now = AT): Promise<[string, string]> {
  try {
    await verifySigV4(req, "ivschat", secretOf, now);
  } catch (err) {
    if (err instanceof SigV4Error) return [err.reason, err.awsType];
    throw err;
  }
  throw new Error("expected the request to be refused");
}

describe("SigV4 verifier", () => {
  it("verifies the request the SDK signed", async () => {
    expect(createHash("sha256").update(BODY).digest("hex")).toBe("8e6722ef0dea4a3917388cb90a3b00ec8c826217fd2575d5b3883f4d2aa53cc8");
    expect(await verifySigV4(request(), "ivschat", secretOf, AT + 60_000)).toEqual({
      accessKeyId: AKID,
      region: "us-west-2",
      service: "ivschat",
      sessionToken: undefined,
    });
  });

  it("refuses a changed body, signed header, secret, region, service or key", async () => {
    const tampered = BODY.replace("user-42", "user-43");
    expect(await failure(request({ body: tampered }))).toEqual(["body_hash", "InvalidSignatureException"]);
    const hash = createHash("sha256").update(tampered).digest("hex");
    expect(await failure(request({ body: tampered, headers: { "x-amz-content-sha256": hash } }))).toEqual([
      "bad_signature",
      "InvalidSignatureException",
    ]);
    expect(await failure(request({ headers: { host: "127.0.0.1:1" } }))).toEqual(["bad_signature", "InvalidSignatureException"]);
    const auth = (scope: string, signed = SIGNED) =>
      `AWS4-HMAC-SHA256 Credential=${scope}, SignedHeaders=${signed}, Signature=${SIGNATURE}`;
    expect(await failure(request({ authorization: auth(`${AKID}/20261125/us-east-1/ivschat/aws4_request`) }))).toEqual([
      "bad_signature",
      "InvalidSignatureException",
    ]);
    expect(await failure(request({ authorization: auth(`${AKID}/20261125/us-west-2/ivs/aws4_request`) }))).toEqual([
      "wrong_service",
      "InvalidSignatureException",
    ]);
    expect(await failure(request({ authorization: auth(`AKIDUNKNOWN/20261125/us-west-2/ivschat/aws4_request`) }))).toEqual([
      "unknown_key",
      "UnrecognizedClientException",
    ]);
    const wrongSecret = await verifySigV4(request(), "ivschat", () => `${SECRET}x`, AT).catch((e: unknown) => e);
    expect((wrongSecret as SigV4Error).reason).toBe("bad_signature");
  });

  it("refuses a date over 15 minutes off only when the signature holds, and an unsigned session token", async () => {
    expect(await verifySigV4(request(), "ivschat", secretOf, AT + 15 * 60_000)).toMatchObject({ accessKeyId: AKID });
    expect(await failure(request(), AT + 15 * 60_000 + 1000)).toEqual(["expired", "InvalidSignatureException"]);
    expect(await failure(request(), AT - 16 * 60_000)).toEqual(["expired", "InvalidSignatureException"]);
    expect(await failure(request({ headers: { "x-amz-security-token": "session" } }))).toEqual([
      "bad_signature",
      "InvalidSignatureException",
    ]);
    expect(await failure(request({ authorization: "" }))).toEqual(["incomplete", "IncompleteSignatureException"]);
    const missing = request();
    (missing.headers as Map<string, string[]>).delete("authorization");
    expect(await failure(missing)).toEqual(["missing", "MissingAuthenticationTokenException"]);
  });

  it("builds canonical paths and queries as the AWS SDK signs them", () => {
    expect(canonicalUri("/prefix/CreateChatToken")).toBe("/prefix/CreateChatToken");
    expect(canonicalUri("/tags/arn%3Aaws%3Aivschat")).toBe("/tags/arn%253Aaws%253Aivschat");
    expect(canonicalQuery("b=2&a=1&a=0&c")).toBe("a=0&a=1&b=2&c=");
  });
});
