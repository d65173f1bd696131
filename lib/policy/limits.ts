import type { PolicyConfig } from "../config/types.js";
import { ProxyError } from "../errors.js";
import { nextUtcMidnight, utcDay } from "./today.js";
import { MinuteWindow } from "./window.js";

/**
 * A request's hold on its user's limits, taken when it is authorised. `end` returns it when
 * the response is over (finished, failed or abandoned) and adds the tokens it used to the
 * user's day; a second `end` does nothing.
 */
export interface Lease {
  /** OpenAI's `x-ratelimit-*` headers, for a user under `requests_per_minute`; else null. */
  readonly headers: Readonly<Record<string, string>> | null;
  /** `tokens`: prompt + completion tokens the response used (0 when none were reported). */
  end(tokens: number, now?: number): void;
}

/** What the running server knows about one busy user, for `users show` (via the usage snapshot). */
export interface UserUse {
  readonly user: string;
  readonly inFlight: number;
  readonly requestsLastMinute: number;
}

/** The in-memory counters of every user: in flight, requests per minute, tokens per day. */
export interface Limits {
  /** Takes a lease on `policy`'s limits for `user`, or says which limit refuses it (429). */
  begin(user: string, policy: PolicyConfig | null, now: number): Lease | ProxyError;
  /** Raises today's token totals to `totals` (read from the request log): safe to repeat. */
  restore(totals: ReadonlyMap<string, number>, now: number): void;
  tokensToday(user: string, now: number): number;
  /** Users with requests in flight or in the last minute. */
  busy(now: number): UserUse[];
  /** Requests each limit refused since start, by policy (for /metrics). */
  refusals(): readonly LimitRefusals[];
}

/** The limit that refused a request. */
export type LimitName = "tokens_per_day" | "max_concurrent" | "requests_per_minute";

/** How many requests one limit of one policy refused. */
export interface LimitRefusals {
  readonly policy: string;
  readonly limit: LimitName;
  readonly count: number;
}

interface Counters {
  inFlight: number;
  readonly window: MinuteWindow;
}

/** Whether a policy limits anything: only then are its users' requests counted one by one. */
export function isLimited(p: PolicyConfig): boolean {
  return p.maxConcurrent !== null || p.requestsPerMinute !== null || p.tokensPerDay !== null;
}

/** `clock` is what `Lease.end` reads when it is not given a time. */
export function createLimits(clock: () => number = Date.now): Limits {
  let day = utcDay(clock());
  const tokens = new Map<string, number>();
  const counters = new Map<string, Counters>();
  // One lease object per user without limits, reused for every request: such a request costs a
  // map lookup, and its tokens are still counted so that a quota assigned later starts right.
  const counting = new Map<string, Lease>();
  // Counted only on a refusal: a request that passes costs nothing more.
  const refused = new Map<string, { policy: string; limit: LimitName; count: number }>();
  const refuse = (policy: PolicyConfig, limit: LimitName, err: ProxyError): ProxyError => {
    const key = `${policy.name}\0${limit}`;
    const r = refused.get(key);
    if (r === undefined) refused.set(key, { policy: policy.name, limit, count: 1 });
    else r.count++;
    return err;
  };

  const today = (now: number) => {
    const d = utcDay(now);
    if (d !== day) {
      day = d;
      tokens.clear();
    }
  };
  const addTokens = (user: string, n: number, now: number) => {
    if (!(n > 0)) return;
    today(now);
    tokens.set(user, (tokens.get(user) ?? 0) + n);
  };
  const countingLease = (user: string): Lease => {
    let lease = counting.get(user);
    if (lease === undefined) {
      lease = { headers: null, end: (n, now = clock()) => addTokens(user, n, now) };
      counting.set(user, lease);
    }
    return lease;
  };

  return {
    begin(user, policy, now) {
      if (policy === null || !isLimited(policy)) return countingLease(user);
      today(now);
      let c = counters.get(user);
      if (c === undefined) {
        c = { inFlight: 0, window: new MinuteWindow() };
        counters.set(user, c);
      }
      const rpm = policy.requestsPerMinute;
      const seen = c.window.count(now);
      const used = tokens.get(user) ?? 0;
      if (policy.tokensPerDay !== null && used >= policy.tokensPerDay)
        return refuse(
          policy,
          "tokens_per_day",
          quotaSpent(user, policy, used, now, rateHeaders(rpm, seen, c.window, now)),
        );
      if (policy.maxConcurrent !== null && c.inFlight >= policy.maxConcurrent)
        return refuse(
          policy,
          "max_concurrent",
          tooManyInFlight(user, policy, rateHeaders(rpm, seen, c.window, now)),
        );
      if (rpm !== null && seen >= rpm)
        return refuse(
          policy,
          "requests_per_minute",
          tooManyRequests(user, policy, c.window, now, rateHeaders(rpm, seen, c.window, now)),
        );
      c.window.add(now);
      c.inFlight++;
      return new CountedLease(c, user, rateHeaders(rpm, seen + 1, c.window, now), addTokens, clock);
    },
    restore(totals, now) {
      today(now);
      for (const [user, n] of totals) if (n > (tokens.get(user) ?? 0)) tokens.set(user, n);
    },
    tokensToday(user, now) {
      today(now);
      return tokens.get(user) ?? 0;
    },
    busy(now) {
      const out: UserUse[] = [];
      for (const [user, c] of counters) {
        const requestsLastMinute = c.window.count(now);
        if (c.inFlight > 0 || requestsLastMinute > 0)
          out.push({ user, inFlight: c.inFlight, requestsLastMinute });
      }
      return out;
    },
    refusals: () => [...refused.values()].map((r) => ({ ...r })),
  };
}

/** A limited user's request: holds one in-flight slot until `end`. */
class CountedLease implements Lease {
  #ended = false;
  constructor(
    private readonly counters: Counters,
    private readonly user: string,
    readonly headers: Readonly<Record<string, string>> | null,
    private readonly add: (user: string, n: number, now: number) => void,
    private readonly clock: () => number,
  ) {}

  end(tokens: number, now: number = this.clock()): void {
    if (this.#ended) return;
    this.#ended = true;
    this.counters.inFlight--;
    this.add(this.user, tokens, now);
  }
}

/**
 * OpenAI's request headers (https://platform.openai.com/docs/guides/rate-limits): the limit,
 * what is left of it, and when the window is back to its initial state, as `1s`, `6m0s`.
 */
function rateHeaders(
  rpm: number | null,
  counted: number,
  window: MinuteWindow,
  now: number,
): Record<string, string> | null {
  if (rpm === null) return null;
  return {
    "x-ratelimit-limit-requests": String(rpm),
    "x-ratelimit-remaining-requests": String(Math.max(0, rpm - counted)),
    "x-ratelimit-reset-requests": formatReset(window.msUntilEmpty(now)),
  };
}

/** A duration as OpenAI (and Go) write it: `250ms`, `1s`, `59.5s`, `6m0s`. */
export function formatReset(ms: number): string {
  if (ms < 1000) return `${Math.ceil(ms)}ms`;
  const seconds = Math.round(ms) / 1000;
  const minutes = Math.floor(seconds / 60);
  const rest = Number((seconds - minutes * 60).toFixed(3));
  return minutes > 0 ? `${minutes}m${rest}s` : `${rest}s`;
}

/** Whole seconds for Retry-After (RFC 9110 §10.2.3), at least 1. */
function retryAfter(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

function quotaSpent(
  user: string,
  policy: PolicyConfig,
  used: number,
  now: number,
  headers: Record<string, string> | null,
): ProxyError {
  const midnight = nextUtcMidnight(now);
  return new ProxyError(
    "rate_limited",
    `rate limited: user "${user}" has used ${used} of the ${policy.tokensPerDay} tokens per day that policy "${policy.name}" allows; the quota resets at midnight UTC (${new Date(midnight).toISOString().replace(".000Z", "Z")}, in ${humanWait(midnight - now)})`,
    {
      headers: {
        ...headers,
        "retry-after": retryAfter(midnight - now),
        // OpenAI's SDKs retry a 429 after Retry-After, however long; hours of sleep help no one.
        "x-should-retry": "false",
      },
    },
  );
}

function tooManyInFlight(
  user: string,
  policy: PolicyConfig,
  headers: Record<string, string> | null,
): ProxyError {
  // When a slot frees is unknown: a second is a fair guess for clients that retry.
  return new ProxyError(
    "rate_limited",
    `rate limited: user "${user}" already has ${policy.maxConcurrent} request${policy.maxConcurrent === 1 ? "" : "s"} in flight, the most policy "${policy.name}" allows; retry when one has finished`,
    { headers: { ...headers, "retry-after": "1" } },
  );
}

function tooManyRequests(
  user: string,
  policy: PolicyConfig,
  window: MinuteWindow,
  now: number,
  headers: Record<string, string> | null,
): ProxyError {
  const wait = window.msUntilBelow(policy.requestsPerMinute!, now);
  return new ProxyError(
    "rate_limited",
    `rate limited: user "${user}" may send ${policy.requestsPerMinute} requests per minute (policy "${policy.name}"); retry in ${retryAfter(wait)} s`,
    { headers: { ...headers, "retry-after": retryAfter(wait), "retry-after-ms": String(Math.ceil(wait)) } },
  );
}

/** `5h 12m`, `3m 20s`, `45s`. */
function humanWait(ms: number): string {
  const s = Math.ceil(ms / 1000);
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${s}s`;
}
