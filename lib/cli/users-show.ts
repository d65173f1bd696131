import type { Config, PolicyConfig } from "../config/types.js";
import { readUsage, STALE_MS } from "../policy/snapshot.js";
import { nextUtcMidnight, readTokensToday } from "../policy/today.js";
import type { Store } from "../store/open.js";
import type { User } from "../store/users.js";
import { CliError } from "./io.js";
import { formatTime } from "./table.js";

/** A policy's rules as `users show --json` prints them (the config's own key names). */
export function policyJson(p: PolicyConfig) {
  return {
    models: p.models,
    max_concurrent: p.maxConcurrent,
    requests_per_minute: p.requestsPerMinute,
    tokens_per_day: p.tokensPerDay,
    weight: p.weight,
    options:
      p.options === null
        ? null
        : {
            num_ctx_max: p.options.numCtxMax,
            num_predict_max: p.options.numPredictMax,
            keep_alive: p.options.keepAlive,
          },
  };
}

/** How a user came by its policy. */
type Source =
  | { kind: "assigned"; policy: PolicyConfig }
  | { kind: "default"; policy: PolicyConfig }
  | { kind: "none" }
  | { kind: "undefined"; name: string };

function sourceOf(user: User, config: Config): Source {
  if (user.policy !== null) {
    const p = config.policies?.get(user.policy);
    return p === undefined ? { kind: "undefined", name: user.policy } : { kind: "assigned", policy: p };
  }
  const d = config.policies?.get("default");
  return d === undefined ? { kind: "none" } : { kind: "default", policy: d };
}

/** What `users show` reports: the user, its policy, and today's use against the policy's limits. */
export interface ShowReport {
  readonly user: User;
  readonly source: Source;
  /** Prompt + completion tokens today (UTC), from the request log. */
  readonly tokensToday: number;
  readonly resetsAt: number;
  /** From the running server's usage snapshot; null when the policy counts nothing. */
  readonly live: {
    readonly inFlight: number;
    readonly requestsLastMinute: number;
    /** When the server wrote the figures; null when it reported nothing (the user is idle). */
    readonly reportedAt: number | null;
    readonly stale: boolean;
  } | null;
}

/** Reads one user's report from the store (the request log and the usage snapshot). */
export function showReport(store: Store, config: Config, name: string, now: number): ShowReport {
  const user = store.users.get(name);
  const source = sourceOf(user, config);
  const policy = source.kind === "assigned" || source.kind === "default" ? source.policy : null;
  const limited =
    policy !== null &&
    (policy.maxConcurrent !== null || policy.requestsPerMinute !== null || policy.tokensPerDay !== null);
  let live: ShowReport["live"] = null;
  if (limited) {
    const row = readUsage(store.db, user.name);
    live = {
      inFlight: row?.inFlight ?? 0,
      requestsLastMinute: row?.requestsLastMinute ?? 0,
      reportedAt: row?.updatedAt ?? null,
      stale: row !== null && now - row.updatedAt > STALE_MS,
    };
  }
  return {
    user,
    source,
    tokensToday: readTokensToday(store.db, now, user.name).get(user.name) ?? 0,
    resetsAt: nextUtcMidnight(now),
    live,
  };
}

/** The report as `--json` prints it. */
export function showJson(r: ShowReport, userJson: (u: User) => Record<string, unknown>) {
  const policy = r.source.kind === "assigned" || r.source.kind === "default" ? r.source.policy : null;
  return {
    ...userJson(r.user),
    policy_source: r.source.kind,
    effective_policy: policy?.name ?? null,
    rules: policy === null ? null : policyJson(policy),
    today: {
      tokens: r.tokensToday,
      tokens_per_day: policy?.tokensPerDay ?? null,
      resets_at: new Date(r.resetsAt).toISOString(),
      requests_last_minute: r.live?.requestsLastMinute ?? null,
      requests_per_minute: policy?.requestsPerMinute ?? null,
      in_flight: r.live?.inFlight ?? null,
      max_concurrent: policy?.maxConcurrent ?? null,
      reported_at: r.live?.reportedAt ? new Date(r.live.reportedAt).toISOString() : null,
      stale: r.live?.stale ?? false,
    },
  };
}

/** The report as text, one `label: value` a line. */
export function showText(r: ShowReport, config: Config): string {
  const u = r.user;
  const lines: string[] = [];
  const row = (label: string, value: string) => lines.push(`${label.padEnd(24)}${value}`);
  row("User:", `${u.name} (${u.role}, ${u.active ? "active" : "deactivated"})`);
  row(
    "  token:",
    `${u.tokenPrefix}…, expires ${u.expiresAt === null ? "never" : `${formatTime(u.expiresAt)} UTC`}`,
  );
  row("  last used:", u.lastUsedAt === null ? "never" : `${formatTime(u.lastUsedAt)} UTC`);

  const s = r.source;
  switch (s.kind) {
    case "none":
      row("Policy:", "none: no limits (the config defines no `default` policy)");
      break;
    case "undefined":
      row("Policy:", `${s.name} — NOT DEFINED in ${config.file} [${config.env}]`);
      lines.push(
        `  Every request of ${u.name} is refused (403) until the config defines "${s.name}" or another`,
        `  policy is assigned: ollama-proxy users set ${u.name} --policy NAME (defined: ${definedList(config)})`,
      );
      break;
    default: {
      const p = s.policy;
      row("Policy:", s.kind === "assigned" ? p.name : `${p.name} (none assigned: the config's default)`);
      row("  models:", p.models.join(", "));
      row("  max_concurrent:", limitText(p.maxConcurrent));
      row("  requests_per_minute:", limitText(p.requestsPerMinute));
      row("  tokens_per_day:", limitText(p.tokensPerDay));
      row("  weight:", String(p.weight));
      row("  options:", optionsText(p));
    }
  }

  const policy = s.kind === "assigned" || s.kind === "default" ? s.policy : null;
  lines.push("Today (UTC):");
  const quota = policy?.tokensPerDay ?? null;
  row(
    "  tokens:",
    quota === null
      ? `${r.tokensToday} (no limit)`
      : `${r.tokensToday} of ${quota} (${percent(r.tokensToday, quota)}); resets ${formatTime(r.resetsAt)} UTC`,
  );
  if (r.live === null) {
    const why = policy === null ? "no policy" : `policy "${policy.name}" sets no limits`;
    row("  requests last minute:", `not counted (${why})`);
    row("  in flight:", `not counted (${why})`);
  } else {
    row("  requests last minute:", ofLimit(r.live.requestsLastMinute, policy!.requestsPerMinute));
    row("  in flight:", ofLimit(r.live.inFlight, policy!.maxConcurrent));
    if (r.live.stale && r.live.reportedAt !== null) {
      lines.push(
        `  (last reported by the server at ${formatTime(r.live.reportedAt)} UTC, over ${STALE_MS / 1000} s ago: is it running?)`,
      );
    }
  }
  return lines.join("\n");
}

/** The defined policy names for a refusal, or how to define one. */
export function definedList(config: Config): string {
  const names = [...(config.policies?.keys() ?? [])].sort();
  return names.length === 0 ? "none" : names.join(", ");
}

/** Refuses a policy the config does not define, naming the ones it does. */
export function checkPolicyDefined(config: Config, name: string): void {
  if (config.policies === null) {
    throw new CliError(
      `--policy ${name}: ${config.file} [${config.env}] defines no policies; add a "policies:" section first (README, "Policies")`,
    );
  }
  if (!config.policies.has(name)) {
    throw new CliError(
      `--policy ${name}: no such policy in ${config.file} [${config.env}]; defined: ${definedList(config)}`,
    );
  }
}

function limitText(n: number | null): string {
  return n === null ? "no limit" : String(n);
}

function ofLimit(n: number, limit: number | null): string {
  return limit === null ? `${n} (no limit)` : `${n} of ${limit}`;
}

function percent(n: number, of: number): string {
  return `${Math.min(999, Math.round((n / of) * 1000) / 10)}%`;
}

function optionsText(p: PolicyConfig): string {
  const o = p.options;
  if (o === null) return "none (bodies pass unchanged)";
  const parts: string[] = [];
  if (o.numCtxMax !== null) parts.push(`num_ctx_max ${o.numCtxMax}`);
  if (o.numPredictMax !== null) parts.push(`num_predict_max ${o.numPredictMax}`);
  if (o.keepAlive !== null) parts.push(`keep_alive ${o.keepAlive}`);
  return parts.join(", ");
}
