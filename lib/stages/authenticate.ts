import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { RequestContext } from "../context.js";
import { ProxyError } from "../errors.js";
import type { Store } from "../store/open.js";
import { type Credential, hashToken, TOKEN_LENGTH, TOKEN_PREFIX, type User } from "../store/users.js";

/** Turns an Authorization header into a user, or the error to answer with. */
export interface Auth {
  authenticate(authorization: string | undefined, address: string, now: number): User | ProxyError;
  /** Reloads the token map if another process (the CLI) changed the database. */
  refresh(): void;
  /** Applies new `limits.auth_*` (SIGHUP): new failures count against them, blocks in force take the new length. */
  reconfigure(limits: AuthLimits): void;
  /** How many addresses are blocked now and how many blocks there have been (for /health and /metrics). */
  lockouts(now?: number): AuthLockouts;
  /** Refused tokens (missing ones included) and blocks since start, for /metrics. */
  counts(): AuthCounts;
  /** Writes pending last-used times and stops the timers. */
  close(): void;
}

/** `limits.auth_failures_per_minute` and `limits.auth_block_seconds`. */
export interface AuthLimits {
  /** Failed token checks from one address within a minute that block it. */
  failuresPerMinute: number;
  /** How long a blocked address's failed attempts get 429 (0: never blocked). */
  blockSeconds: number;
}

/** The lockout counters. */
export interface AuthLockouts {
  /** Addresses whose failed attempts get 429 right now. */
  readonly blocked: number;
  /** Addresses blocked since start (an address blocked twice counts twice). */
  readonly total: number;
}

/** What the auth stage has refused since start. */
export interface AuthCounts {
  /** Missing, malformed, unknown, deactivated or expired tokens. */
  readonly failures: number;
  /** Times an address went over `limits.auth_failures_per_minute` and was blocked. */
  readonly lockouts: number;
}

/** An address that has just become blocked. */
export interface AuthBlock {
  readonly address: string;
  /** Failed attempts in the minute that led to the block. */
  readonly failures: number;
  /** When the block ends (epoch ms), unless a reload changes its length. */
  readonly until: number;
}

export interface AuthOptions extends AuthLimits {
  /** How often to look at `PRAGMA data_version` (a CLI change must apply within 2 s). */
  refreshMs?: number;
  /** How often batched last-used times are written. */
  touchMs?: number;
  /** A timed refresh failed (busy or broken database); the last good token map stays in use. */
  onRefreshError?: (err: Error) => void;
  /** Called once when an address becomes blocked (for the app log); it must not throw. */
  onBlock?: (block: AuthBlock) => void;
}

// Every refusal reads the same, so that a caller learns nothing about which tokens exist.
const UNAUTHORIZED_MESSAGE = "unauthorized: a valid API token is required (Authorization: Bearer <token>)";
const CHALLENGE = { "www-authenticate": 'Bearer realm="ollama-proxy"' };
const BLOCKED_MESSAGE = "too many failed authentication attempts; try again later";
const DUMMY_HASH = Buffer.alloc(32);
/** Hashed in place of a token of the wrong shape, so that every refusal costs one hash; never a real token. */
const DUMMY_TOKEN = "-".repeat(TOKEN_LENGTH);
const WINDOW_MS = 60_000;
/**
 * Addresses tracked at once. Failures from further addresses go uncounted until the next
 * prune: the lockout slows noise, it is not what keeps tokens safe (256 random bits do that),
 * and an unbounded map would let a spread of addresses grow memory at will.
 */
const MAX_TRACKED = 100_000;

interface Failures {
  windowStart: number;
  count: number;
  /** When the current block began; 0 when not blocked. */
  blockedAt: number;
}

/**
 * The auth stage. Tokens are checked against an in-memory map of SHA-256 hashes of the active
 * users' tokens, kept in sync with SQLite; the request path does no I/O. Unknown, deactivated
 * and expired tokens take the same path and get the same answer.
 *
 * Failed attempts are counted per client address: after `failuresPerMinute` of them the
 * address is blocked for `blockSeconds`, during which its *failed* attempts get 429 instead of
 * 401. A valid token is always served, blocked address or not: behind a NAT or a shared
 * gateway one client's bad token must not lock out everyone else. Every presented token is
 * hashed, looked up and compared before the answer is chosen, so a 429 costs what a 401
 * does and takes the same time for every bad token. A request without a token is refused
 * and not counted: it guesses nothing, and its client should read "token required", not 429.
 */
export function createAuth(store: Store, opts: AuthOptions): Auth {
  let byHash = new Map<string, Credential>();
  let version = -1;
  let limits: AuthLimits = { failuresPerMinute: opts.failuresPerMinute, blockSeconds: opts.blockSeconds };
  let blocksTotal = 0;
  let failuresTotal = 0;
  const lastUsed = new Map<number, number>();
  const failures = new Map<string, Failures>();

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
  const blockedUntil = (f: Failures) => (f.blockedAt === 0 ? 0 : f.blockedAt + limits.blockSeconds * 1000);
  const pruneFailures = (now: number) => {
    for (const [addr, f] of failures) {
      if (blockedUntil(f) <= now && now - f.windowStart > WINDOW_MS) failures.delete(addr);
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

  /** The user a well-formed, known, unexpired token belongs to; the same work whatever the token. */
  const check = (token: string, now: number): User | null => {
    // Shape only; whether the token exists is the map's answer.
    const shaped = token.length === TOKEN_LENGTH && token.startsWith(TOKEN_PREFIX);
    const hash = hashToken(shaped ? token : DUMMY_TOKEN);
    const found = byHash.get(hash.toString("base64"));
    // The comparison runs whether or not the hash was found, so both paths cost the same.
    const same = timingSafeEqual(found?.tokenHash ?? DUMMY_HASH, hash);
    if (!shaped || found === undefined || !same) return null;
    if (found.user.expiresAt !== null && found.user.expiresAt <= now) return null;
    return found.user;
  };

  /** A failed attempt from `address`: 429 while the address is blocked, else counted and 401. */
  const failed = (address: string, now: number): ProxyError => {
    let f = failures.get(address);
    if (f !== undefined) {
      const until = blockedUntil(f);
      if (until > now) {
        return new ProxyError("rate_limited", BLOCKED_MESSAGE, {
          headers: { "retry-after": String(Math.max(1, Math.ceil((until - now) / 1000))) },
        });
      }
    } else if (failures.size < MAX_TRACKED) {
      f = { windowStart: now, count: 0, blockedAt: 0 };
      failures.set(address, f);
    }
    if (f !== undefined) count(address, f, now);
    return new ProxyError("unauthorized", UNAUTHORIZED_MESSAGE, { headers: CHALLENGE });
  };

  const count = (address: string, f: Failures, now: number) => {
    if (now - f.windowStart > WINDOW_MS) {
      f.windowStart = now;
      f.count = 0;
    }
    f.count++;
    if (f.count < limits.failuresPerMinute || limits.blockSeconds <= 0) return;
    const failuresSeen = f.count;
    // The block starts a fresh window: once it ends, the address has its full allowance again.
    f.blockedAt = now;
    f.windowStart = now;
    f.count = 0;
    blocksTotal++;
    opts.onBlock?.({ address, failures: failuresSeen, until: blockedUntil(f) });
  };

  return {
    authenticate(authorization, address, now) {
      const token =
        authorization !== undefined && authorization.slice(0, 7).toLowerCase() === "bearer "
          ? authorization.slice(7).trim()
          : "";
      if (token === "") {
        failuresTotal++;
        return new ProxyError("unauthorized", UNAUTHORIZED_MESSAGE, { headers: CHALLENGE });
      }
      const user = check(token, now);
      if (user === null) {
        failuresTotal++;
        return failed(address, now);
      }
      lastUsed.set(user.id, now);
      return user;
    },
    refresh,
    reconfigure(next) {
      limits = { failuresPerMinute: next.failuresPerMinute, blockSeconds: next.blockSeconds };
    },
    counts: () => ({ failures: failuresTotal, lockouts: blocksTotal }),
    lockouts(now = Date.now()) {
      let blocked = 0;
      for (const f of failures.values()) if (blockedUntil(f) > now) blocked++;
      return { blocked, total: blocksTotal };
    },
    close() {
      clearInterval(refreshTimer);
      clearInterval(touchTimer);
      flushTouches();
    },
  };
}

/**
 * The authenticate stage: the request's token → its user, or the refusal to answer with. The
 * token is where the request's dialect carries it: `Authorization: Bearer` everywhere, and on
 * Anthropic's paths also `x-api-key` (what the Anthropic SDKs send for ANTHROPIC_API_KEY;
 * Claude Code's ANTHROPIC_AUTH_TOKEN is a bearer token). Both go through the same check, so
 * the lockout and the equal-time rules hold for either header.
 */
export function authenticate(auth: Auth, req: IncomingMessage, ctx: RequestContext): User | ProxyError {
  const found = auth.authenticate(presentedAuthorization(req, ctx), ctx.address, Date.now());
  if (ctx.dialect !== "anthropic" || !(found instanceof ProxyError) || found.code !== "unauthorized")
    return found;
  // Same refusal, worded for the headers an Anthropic client can set.
  return new ProxyError("unauthorized", ANTHROPIC_UNAUTHORIZED_MESSAGE, { headers: CHALLENGE });
}

const ANTHROPIC_UNAUTHORIZED_MESSAGE =
  "unauthorized: a valid API token is required (x-api-key: <token> or Authorization: Bearer <token>)";

/**
 * The Authorization header the token check reads. A bearer token wins; on an Anthropic path
 * without one, `x-api-key` stands in for it. Elsewhere `x-api-key` means nothing (and it is
 * never forwarded: lib/http/headers.ts drops it).
 */
function presentedAuthorization(req: IncomingMessage, ctx: RequestContext): string | undefined {
  const authorization = req.headers.authorization;
  if (ctx.dialect !== "anthropic" || isBearer(authorization)) return authorization;
  const key = req.headers["x-api-key"];
  return typeof key === "string" && key !== "" ? `Bearer ${key}` : authorization;
}

function isBearer(header: string | undefined): boolean {
  return (
    header !== undefined && header.slice(0, 7).toLowerCase() === "bearer " && header.slice(7).trim() !== ""
  );
}
