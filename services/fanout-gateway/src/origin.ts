/**
 * Optional Origin allow-list per app (docs/PROTOCOL.md): an app record's `limits.allowedOrigins` (apps.ts), else
 * `SWITCHBOARD_ALLOWED_ORIGINS`:
 * `app1=https://a.example,https://b.example;app2=https://c.example`. Apps not listed accept any Origin. A browser
 * always sends Origin, so a listed app refuses a browser page from elsewhere; a request without Origin (a server or
 * device client, which could send any Origin it liked) is accepted.
 */
import { isValidId } from "@switchboard/protocol";
import { APP_ORIGIN_PATTERN, ConfigError, setting, type Setting } from "@switchboard/core";

export type OriginAllowList = ReadonlyMap<string, ReadonlySet<string>>;

const ORIGIN_RE = new RegExp(APP_ORIGIN_PATTERN);

export function parseOriginAllowList(text: string, variable = "SWITCHBOARD_ALLOWED_ORIGINS"): OriginAllowList {
  const out = new Map<string, Set<string>>();
  for (const entry of text.split(";")) {
    if (entry.trim() === "") continue;
    const eq = entry.indexOf("=");
    const app = entry.slice(0, eq).trim();
    if (eq < 0 || !isValidId(app))
      throw new ConfigError(variable, `expected app=origin[,origin…] entries separated by ";", got ${JSON.stringify(entry.trim())}`);
    const set = out.get(app) ?? new Set<string>();
    for (const o of entry.slice(eq + 1).split(",")) {
      const origin = o.trim();
      if (!ORIGIN_RE.test(origin))
        throw new ConfigError(variable, `origin ${JSON.stringify(origin)} of app ${app} must be scheme://host[:port] with no path`);
      set.add(origin.toLowerCase());
    }
    out.set(app, set);
  }
  return out;
}

export function originAllowList(): Setting<OriginAllowList> {
  return setting((env, variable) => parseOriginAllowList(env[variable] ?? "", variable), {
    default: "unset: any Origin",
    accepts: "app=origin[,origin…] entries separated by ;, each origin scheme://host[:port]",
  });
}

/** Whether a socket of `app` may connect from `origin` (the header, "" when absent). */
export function originAllowed(list: OriginAllowList, app: string, origin: string): boolean {
  if (origin === "") return true;
  const allowed = list.get(app);
  return allowed === undefined || allowed.has(origin.toLowerCase());
}

/** Whether a socket may connect from `origin` (the header, "" when absent) given its app's resolved Origins. */
export function originIn(allowed: ReadonlySet<string> | undefined, origin: string): boolean {
  return origin === "" || allowed === undefined || allowed.has(origin.toLowerCase());
}
