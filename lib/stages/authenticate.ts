import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { LimitsConfig } from "../config/types.js";
import type { RequestContext } from "../context.js";
import { ProxyError } from "../errors.js";
import type { Store } from "../store/open.js";
import { type Credential, hashToken, TOKEN_LENGTH, TOKEN_PREFIX, type User } from "../store/users.js";

/** Turns an Authorization header into a user, or the error to answer with. */
export interface Auth {
  authenticate(authorization: string | undefined, address: string, now: number): User | ProxyError;
  /** Reloads the token map if another process (the CLI) changed the database. */
  refresh(): void;
  /** Applies reloaded `limits.auth_*` (SIGHUP) to the next failures; addresses already blocked stay blocked. */
  reconfigure(limits: Pick<LimitsConfig, "authFailuresPerMinute" | "authBlockSeconds">): void;
  /** Refused tokens and addresses blocked since start, for /metrics. */
  counts(): AuthCounts;
  /** Writes pending last-used times and stops the timers. */
  close(): void;
}

/** What the auth stage has refused since start. */
export interface AuthCounts {
  /** Missing, malformed, unknown, deactivated or expired tokens. */
  readonly failures: number;
  /** Times an address went over `limits.auth_failures_per_minute` and was blocked. */
  readonly lockouts: number;
}

export interface AuthOptions {
  /** How often to look at `PRAGMA data_version` (a CLI change must apply within 2 s). */
  refreshMs?: number;
  /** How often batched last-used times are written. */
  touchMs?: number;
  failuresPerMinute: number;
  blockSeconds: number;
  /** A timed refresh failed (busy or broken database); the last good token map stays in use. */
  onRefreshError?: (err: Error) => void;
}

// Every refusal reads the same, so that a caller learns nothing about which tokens exist.
const UNAUTHORIZED_MESSAGE = "unauthorized: a valid API token is required (Authorization: Bearer <token>)";
const CHALLENGE = { "www-authenticate": 'Bearer realm="ollama-proxy"' };
const DUMMY_HASH = Buffer.alloc(32);

/**
 * The auth stage. Tokens are checked against an in-memory map of SHA-256 hashes of the active
 * users' tokens, kept in sync with SQLite; the request path does no I/O. Unknown, deactivated
 * and expired tokens take the same path and get the same answer.
 */
export function createAuth(store: Store, opts: AuthOptions): Auth {
  let byHash = new Map<string, Credential>();
  let version = -1;
  const lastUsed = new Map<number, number>();
  const failures = new Map<string, { windowStart: number; count: number; blockedUntil: number }>();
  const rule = { failuresPerMinute: opts.failuresPerMinute, blockSeconds: opts.blockSeconds };
  const counted = { failures: 0, lockouts: 0 };

  const refresh = () => {
    const v = store.dataVersion();
    if (v === version) return;
    version = v;
    const next = new Map<string, Credential>();
    for (const c of store.users.credentials()) next.set(c.tokenHash.toString("base64"), c);
    byHash = next;
  };
  refresh();

  const flushTouches = () => {
    if (lastUsed.size === 0) return;
    const batch = new Map(lastUsed);
    lastUsed.clear();
    try {
      store.users.touch(batch);
    } catch {
      // A read-only or full disk must not stop the proxy; last-used times are advisory.
    }
  };
  const pruneFailures = (now: number) => {
    for (const [addr, f] of failures) {
      if (f.blockedUntil < now && now - f.windowStart > 60_000) failures.delete(addr);
    }
  };

  // A throw from a timer would end the process and every stream on it: report and carry on.
  const refreshTimer = setInterval(() => {
    try {
      refresh();
    } catch (err) {
      opts.onRefreshError?.(err as Error);
    }
  }, opts.refreshMs ?? 500);
  const touchTimer = setInterval(() => {
    flushTouches();
    pruneFailures(Date.now());
  }, opts.touchMs ?? 30_000);
  refreshTimer.unref();
  touchTimer.unref();

  const refuse = (address: string, now: number): ProxyError => {
    let f = failures.get(address);
    if (!f || now - f.windowStart > 60_000) {
      f = { windowStart: now, count: 0, blockedUntil: f?.blockedUntil ?? 0 };
      failures.set(address, f);
    }
    f.count++;
    counted.failures++;
    if (f.count >= rule.failuresPerMinute) {
      if (f.blockedUntil <= now) counted.lockouts++;
      f.blockedUntil = now + rule.blockSeconds * 1000;
    }
    return new ProxyError("unauthorized", UNAUTHORIZED_MESSAGE, { headers: CHALLENGE });
  };

  return {
    authenticate(authorization, address, now) {
      const f = failures.get(address);
      if (f !== undefined && f.blockedUntil > now) {
        return new ProxyError("rate_limited", "too many failed authentication attempts; try again later", {
          headers: { "retry-after": String(Math.ceil((f.blockedUntil - now) / 1000)) },
        });
      }
      const token =
        authorization !== undefined && authorization.slice(0, 7).toLowerCase() === "bearer "
          ? authorization.slice(7).trim()
          : "";
      // Shape only; whether the token exists is the map's answer.
      if (token.length !== TOKEN_LENGTH || !token.startsWith(TOKEN_PREFIX)) return refuse(address, now);
      const hash = hashToken(token);
      const found = byHash.get(hash.toString("base64"));
      // The comparison runs whether or not the hash was found, so both paths cost the same.
      const same = timingSafeEqual(found?.tokenHash ?? DUMMY_HASH, hash);
      if (found === undefined || !same) return refuse(address, now);
      if (found.user.expiresAt !== null && found.user.expiresAt <= now) return refuse(address, now);
      lastUsed.set(found.user.id, now);
      return found.user;
    },
    refresh,
    reconfigure(limits) {
      rule.failuresPerMinute = limits.authFailuresPerMinute;
      rule.blockSeconds = limits.authBlockSeconds;
    },
    counts: () => ({ ...counted }),
    close() {
      clearInterval(refreshTimer);
      clearInterval(touchTimer);
      flushTouches();
    },
  };
}

/** The authenticate stage: the request's bearer token → its user, or the refusal to answer with. */
export function authenticate(auth: Auth, req: IncomingMessage, ctx: RequestContext): User | ProxyError {
  return auth.authenticate(req.headers.authorization, ctx.address, Date.now());
}
