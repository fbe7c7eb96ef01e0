/**
 * JSON over HTTP to the Switchboard services: one place that adds the API key, turns the services'
 * `{"error":{"code","message"}}` bodies into SwitchboardError, and a network failure into `unavailable`.
 */
import { SwitchboardError, isErrorCode, type ErrorCode } from "@switchboard/protocol";

export type AuthScheme = "bearer" | "raw";

export interface HttpRequest {
  method: "GET" | "POST" | "DELETE";
  /** Base URL of the service, e.g. http://127.0.0.1:8082. */
  base: string;
  path: string;
  body?: unknown;
  /** `bearer` sends `Authorization: Bearer <key>`; `raw` sends the key alone (the Livestorm-compatible endpoint). */
  auth?: AuthScheme;
  headers?: Record<string, string>;
}

export class HttpClient {
  constructor(
    private readonly apiKey: string,
    private readonly fetchImpl: typeof fetch = globalThis.fetch,
  ) {}

  async json<T>(req: HttpRequest): Promise<T> {
    const url = `${req.base.replace(/\/+$/, "")}${req.path}`;
    const headers: Record<string, string> = {
      authorization: req.auth === "raw" ? this.apiKey : `Bearer ${this.apiKey}`,
      ...req.headers,
    };
    if (req.body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method: req.method,
        headers,
        ...(req.body !== undefined ? { body: JSON.stringify(req.body) } : {}),
      });
    } catch (err) {
      throw new SwitchboardError(
        "unavailable",
        `cannot reach ${req.method} ${url}: ${describeCause(err)}; is the service running and the URL right?`,
        { status: 503, cause: err },
      );
    }
    const text = await res.text();
    if (res.ok) return (text === "" ? {} : JSON.parse(text)) as T;
    throw errorFromResponse(res, text, `${req.method} ${req.path}`);
  }
}

function describeCause(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}

const STATUS_CODES: ReadonlyArray<[number, ErrorCode]> = [
  [400, "bad_request"],
  [401, "unauthorized"],
  [403, "unauthorized"],
  [404, "not_found"],
  [409, "conflict"],
  [413, "too_large"],
  [429, "rate_limited"],
  [503, "unavailable"],
];

/** A SwitchboardError from a non-2xx response: the body's code and message when it has them. */
export function errorFromResponse(res: Response, text: string, what: string): SwitchboardError {
  let code: ErrorCode | undefined;
  let message: string | undefined;
  let details: unknown;
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    if (isErrorCode(body.error?.code)) code = body.error.code;
    if (typeof body.error?.message === "string") message = body.error.message;
    details = body.error?.details;
  } catch {
    // not JSON: fall back to the status
  }
  code ??= STATUS_CODES.find(([s]) => s === res.status)?.[1] ?? (res.status >= 500 ? "internal" : "bad_request");
  const retry = Number(res.headers.get("retry-after"));
  return new SwitchboardError(code, message ?? `${what} answered ${res.status}`, {
    status: res.status,
    ...(details !== undefined ? { details } : {}),
    ...(Number.isFinite(retry) && retry > 0 ? { retryAfter: retry } : {}),
  });
}
