import type { Config, PolicyConfig } from "../config/types.js";
import { ProxyError } from "../errors.js";
import type { User } from "../store/users.js";
import { createLimits, isLimited, type Lease, type LimitName, type UserUse } from "./limits.js";
import {
  allowsModel,
  compileModelRules,
  filterListing,
  filterNames,
  type ListingKind,
  type ModelRules,
} from "./models.js";
import { rewriteBody, rewritesOn } from "./rewrite.js";

/** A configured policy, compiled for the request path. */
export interface Policy {
  readonly name: string;
  readonly config: PolicyConfig;
  readonly models: ModelRules;
  /** Sets max_concurrent, requests_per_minute or tokens_per_day: its requests are counted one by one. */
  readonly limited: boolean;
}

/**
 * The authorize stage's engine (SPEC §11): which policy a user is under, what it allows, the
 * limits counted in memory, and the body rules. Pure but for the clock: no I/O, and a user
 * without limits costs map lookups and no allocation.
 */
export interface Policies {
  /**
   * The user's policy: the one assigned, else `default`, else null (no limits). An assigned
   * policy the config does not define is a 403 (fail closed); its `cause` says why, for the app log.
   */
  forUser(user: User): Policy | null | ProxyError;
  /** True when `policy` lets its users use `model` (as the client wrote it). */
  allows(policy: Policy | null, model: string): boolean;
  /** The 403 for a model the policy does not allow; its message names the model. */
  refuseModel(user: User, policy: Policy, model: string): ProxyError;
  /** `/api/tags`, `/api/ps` or `/v1/models` with only what the policy allows (the same body when it allows all). */
  filterListing(
    policy: Policy | null,
    kind: ListingKind,
    body: Record<string, unknown>,
  ): Record<string, unknown>;
  /** Model names (`/proxy/me`) the policy allows. */
  filterNames(policy: Policy | null, names: readonly string[]): string[];
  /** Takes the request's lease on the user's limits, or the 429 of the limit that refuses it. */
  begin(user: User, policy: Policy | null, now: number): Lease | ProxyError;
  /** Applies the policy's `options` to a parsed body for `path`, in place; true when it changed. */
  rewrite(policy: Policy | null, path: string, body: unknown): boolean;
  /** True when the policy may rewrite a body sent to `path`: only then must the body be read whole and parsed. */
  rewrites(policy: Policy | null, path: string): boolean;
  /** The user's share of a saturated fleet, for the scheduler: 1 without a policy. */
  weight(policy: Policy | null): number;
  /** Raises today's token totals to those read from the request log (at start, on reload). */
  restore(totals: ReadonlyMap<string, number>, now: number): void;
  /** Tokens the user has used today (UTC), as the limits see them. */
  tokensToday(userName: string, now: number): number;
  /** Applies a new config's policies; counters (in flight, per minute, per day) carry over. */
  reload(config: Config): void;
  /** Users with requests in flight or in the last minute, for the usage snapshot. */
  snapshot(now: number): UserUse[];
  /** The names the config defines, sorted (for messages); empty when it has no `policies`. */
  names(): string[];
  /** Requests refused since start, by policy and reason (for /metrics). */
  refusals(): PolicyRefusals[];
}

/**
 * Why a policy refused a request: a model it does not allow, a policy the config does not
 * define (fail closed), or one of its limits.
 */
export type RefusalReason = "model" | "undefined_policy" | LimitName;

/** How many requests one policy refused for one reason. */
export interface PolicyRefusals {
  readonly policy: string;
  readonly reason: RefusalReason;
  readonly count: number;
}

/** Builds the engine from a config; `clock` is what a lease's `end()` reads when given no time. */
export function createPolicies(config: Config, opts: { clock?: () => number } = {}): Policies {
  const limits = createLimits(opts.clock);
  let compiled = compile(config);
  let fallback = compiled?.get("default") ?? null;
  let file = config.file;
  // The refusals decided here; the limits count their own.
  const refused = new Map<string, { policy: string; reason: RefusalReason; count: number }>();
  const count = (policy: string, reason: RefusalReason) => {
    const key = `${policy}\0${reason}`;
    const r = refused.get(key);
    if (r === undefined) refused.set(key, { policy, reason, count: 1 });
    else r.count++;
  };

  return {
    forUser(user) {
      if (user.policy === null) return fallback;
      const p = compiled?.get(user.policy);
      if (p !== undefined) return p;
      count(user.policy, "undefined_policy");
      return unconfigured(user, user.policy, file, compiled);
    },
    allows: (policy, model) => policy === null || allowsModel(policy.models, model),
    refuseModel: (user, policy, model) => {
      count(policy.name, "model");
      return new ProxyError(
        "forbidden",
        `forbidden: model "${model}" is not allowed for user "${user.name}" (policy "${policy.name}")`,
      );
    },
    filterListing: (policy, kind, body) =>
      policy === null ? body : filterListing(policy.models, kind, body),
    filterNames: (policy, names) => (policy === null ? [...names] : filterNames(policy.models, names)),
    begin: (user, policy, now) => limits.begin(user.name, policy?.limited ? policy.config : null, now),
    rewrite: (policy, path, body) =>
      policy !== null && policy.config.options !== null && rewriteBody(policy.config.options, path, body),
    rewrites: (policy, path) =>
      policy !== null && policy.config.options !== null && rewritesOn(policy.config.options, path),
    weight: (policy) => policy?.config.weight ?? 1,
    restore: (totals, now) => limits.restore(totals, now),
    tokensToday: (userName, now) => limits.tokensToday(userName, now),
    reload(next) {
      compiled = compile(next);
      fallback = compiled?.get("default") ?? null;
      file = next.file;
    },
    snapshot: (now) => limits.busy(now),
    names: () => [...(compiled?.keys() ?? [])].sort(),
    refusals: () => [
      ...[...refused.values()].map((r) => ({ ...r })),
      ...limits.refusals().map((r) => ({ policy: r.policy, reason: r.limit, count: r.count })),
    ],
  };
}

function compile(config: Config): Map<string, Policy> | null {
  if (config.policies === null) return null;
  const out = new Map<string, Policy>();
  for (const [name, p] of config.policies) {
    out.set(name, { name, config: p, models: compileModelRules(p.models), limited: isLimited(p) });
  }
  return out;
}

/** Fail closed: a user whose policy is gone from the config gets nothing, and the log says why. */
function unconfigured(
  user: User,
  policy: string,
  file: string,
  compiled: ReadonlyMap<string, Policy> | null,
): ProxyError {
  const defined = compiled === null || compiled.size === 0 ? "none" : [...compiled.keys()].sort().join(", ");
  return new ProxyError(
    "forbidden",
    `forbidden: user "${user.name}" is assigned policy "${policy}", which this proxy does not define; ask its operator to define it or assign another`,
    {
      cause: new Error(
        `user "${user.name}" is refused: its policy "${policy}" is not defined in ${file} (defined: ${defined}); define it and reload, or run: ollama-proxy users set ${user.name} --policy NAME`,
      ),
    },
  );
}
