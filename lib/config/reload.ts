import type { Config } from "./types.js";

/** What a reload did: the keys it applied, and those that differ from what runs but wait for a restart. */
export interface ReloadReport {
  /** File keys (`logging.level`, `servers.gpu2`) that changed and now apply. */
  readonly applied: readonly string[];
  /** File keys whose value in the file differs from the one the process started with. */
  readonly needsRestart: readonly string[];
}

/** A key the running process could not apply (a certificate file that does not load): its running value stays. */
export interface ReloadFailure {
  readonly key: string;
  readonly error: string;
}

/** What a reload did in the running process: the report, and the keys that failed to apply. */
export interface AppliedReload extends ReloadReport {
  readonly failed: readonly ReloadFailure[];
}

/** Whether a reload applies a key: it may depend on what the process started with, and on the file. */
type Applies = "live" | "restart" | ((boot: Config, next: Config) => "live" | "restart");

/** One key of the file as written, how to read it from a Config, and whether a reload applies it. */
interface Key {
  readonly name: string;
  readonly read: (c: Config) => unknown;
  readonly applies: Applies;
  /** How a restart message shows its value, when `read` gives no plain one. */
  readonly show?: (c: Config) => string;
}

const MB = 1024 * 1024;

/**
 * Every key of a section, with whether SIGHUP applies it. The listener (`proxy_port`, `bind`,
 * `limits.max_header_kb`, which Node reads only when the server is created), the database and
 * the log folder and writers are opened once at start. A key the table does not know (one a
 * newer branch added) counts as needing a restart until it is listed here as live: the report
 * must never claim that something applied when it did not.
 */
const KEYS: readonly Key[] = [
  { name: "proxy_port", read: (c) => c.proxyPort, applies: "restart" },
  { name: "bind", read: (c) => c.bind, applies: "restart" },
  { name: "database", read: (c) => c.database, applies: "restart" },
  { name: "logging.level", read: (c) => c.logging.level, applies: "live" },
  { name: "logging.dir", read: (c) => c.logging.dir, applies: "restart" },
  { name: "logging.retention_days", read: (c) => c.logging.retentionDays, applies: "live" },
  { name: "logging.log_bodies", read: (c) => c.logging.logBodies, applies: "live" },
  { name: "logging.request_log", read: (c) => c.logging.requestLog, applies: "restart" },
  { name: "limits.max_body_mb", read: (c) => c.limits.maxBodyBytes / MB, applies: "live" },
  { name: "limits.headers_timeout_ms", read: (c) => c.limits.headersTimeoutMs, applies: "live" },
  { name: "limits.request_timeout_ms", read: (c) => c.limits.requestTimeoutMs, applies: "live" },
  {
    name: "limits.upstream_connect_timeout_ms",
    read: (c) => c.limits.upstreamConnectTimeoutMs,
    applies: "live",
  },
  {
    name: "limits.upstream_first_byte_timeout_ms",
    read: (c) => c.limits.upstreamFirstByteTimeoutMs,
    applies: "live",
  },
  { name: "limits.upstream_idle_timeout_ms", read: (c) => c.limits.upstreamIdleTimeoutMs, applies: "live" },
  { name: "limits.shutdown_grace_seconds", read: (c) => c.limits.shutdownGraceSeconds, applies: "live" },
  { name: "limits.max_header_kb", read: (c) => c.limits.maxHeaderBytes / 1024, applies: "restart" },
  { name: "limits.auth_failures_per_minute", read: (c) => c.limits.authFailuresPerMinute, applies: "live" },
  { name: "limits.auth_block_seconds", read: (c) => c.limits.authBlockSeconds, applies: "live" },
  // Read per request (a body being read, a response being written) when the wait starts.
  { name: "limits.send_timeout_ms", read: (c) => c.limits.sendTimeoutMs, applies: "live" },
  { name: "limits.body_timeout_ms", read: (c) => c.limits.bodyTimeoutMs, applies: "live" },
  // scheduler.reconfigure: requests already waiting are judged by the new bounds from then on.
  { name: "scheduler.max_queue", read: (c) => c.scheduler.maxQueue, applies: "live" },
  { name: "scheduler.max_wait_seconds", read: (c) => c.scheduler.maxWaitSeconds, applies: "live" },
  { name: "scheduler.model_affinity_ms", read: (c) => c.scheduler.modelAffinityMs, applies: "live" },
  {
    name: "scheduler.fair_share_window_seconds",
    read: (c) => c.scheduler.fairShareWindowSeconds,
    applies: "live",
  },
  // Metrics are registered at start only when enabled: turning them off applies, turning them on waits.
  {
    name: "metrics.enabled",
    read: (c) => c.metrics.enabled,
    applies: (boot) => (boot.metrics.enabled ? "live" : "restart"),
  },
  { name: "metrics.token", read: (c) => c.metrics.token, applies: "live" },
  { name: "cache_ttl_seconds", read: (c) => c.cacheTtlSeconds, applies: "live" },
  { name: "health.interval_seconds", read: (c) => c.health.intervalSeconds, applies: "live" },
  { name: "health.timeout_ms", read: (c) => c.health.timeoutMs, applies: "live" },
  { name: "health.slow_threshold_ms", read: (c) => c.health.slowThresholdMs, applies: "live" },
  { name: "health.failures_before_down", read: (c) => c.health.failuresBeforeDown, applies: "live" },
  { name: "health.successes_before_up", read: (c) => c.health.successesBeforeUp, applies: "live" },
  { name: "trusted_proxies", read: (c) => c.trustedProxies, applies: "live" },
  { name: "allow_cloud", read: (c) => c.allowCloud, applies: "live" },
  { name: "model_config.explicit_assignments", read: (c) => c.models.explicitAssignments, applies: "live" },
  { name: "model_config.memory_overrides", read: (c) => c.models.memoryOverrides, applies: "live" },
  { name: "model_config.memory_patterns", read: (c) => c.models.memoryPatterns, applies: "live" },
  { name: "model_config.default_memory_gb", read: (c) => c.models.defaultMemoryGb, applies: "live" },
  // The listener is node:http or node:https from the start: another pair applies (the files are
  // re-read on every reload), turning TLS on or off waits for a restart.
  {
    name: "tls",
    read: (c) => c.tls,
    applies: (boot, next) => (boot.tls !== null && next.tls !== null ? "live" : "restart"),
    show: (c) => (c.tls === null ? "off" : "on"),
  },
];

/** Sections of named entries, reported one entry at a time (`servers.gpu2`), all applied live. */
const NAMED = ["servers", "externalHosts", "policies"] as const;
/** Sections whose sub-keys are in KEYS: a sub-key not there is new, and counts as needing a restart. */
const NESTED = ["logging", "limits", "metrics", "health", "scheduler"] as const;
/** Config properties that KEYS, NAMED and NESTED cover (`env` and `file` are what a reload reads, not keys). */
const COVERED: ReadonlySet<string> = new Set([
  "env",
  "file",
  "proxyPort",
  "bind",
  "database",
  "cacheTtlSeconds",
  "trustedProxies",
  "allowCloud",
  "models",
  "tls",
  ...NAMED,
  ...NESTED,
]);

/**
 * Compares the config a reload brings (`next`) with the one running (`current`) and the one
 * the process started with (`boot`): `applied` lists the live keys that changed since
 * `current`; `needsRestart` every key that cannot change live and differs from `boot` (so a
 * port edited and then put back no longer waits for a restart).
 */
export function reloadReport(boot: Config, current: Config, next: Config): ReloadReport {
  const applied: string[] = [];
  const needsRestart: string[] = [];
  const note = (name: string, applies: Applies, read: (c: Config) => unknown) => {
    const mode = typeof applies === "function" ? applies(boot, next) : applies;
    if (mode === "live") {
      if (!same(read(current), read(next))) applied.push(name);
    } else if (!same(read(boot), read(next))) needsRestart.push(name);
  };
  for (const k of KEYS) note(k.name, k.applies, k.read);
  for (const section of NAMED) {
    const before = entries(current[section]);
    const after = entries(next[section]);
    for (const name of new Set([...before.keys(), ...after.keys()])) {
      if (!same(before.get(name), after.get(name))) applied.push(`${snake(section)}.${name}`);
    }
  }
  for (const section of NESTED) {
    for (const prop of Object.keys(next[section])) {
      if (KNOWN_PROPS[section].includes(prop)) continue;
      note(
        `${section}.${snake(prop)}`,
        "restart",
        (c) => (c[section] as unknown as Record<string, unknown>)[prop],
      );
    }
  }
  for (const prop of Object.keys(next)) {
    if (COVERED.has(prop)) continue;
    note(snake(prop), "restart", (c) => (c as unknown as Record<string, unknown>)[prop]);
  }
  return { applied, needsRestart };
}

/** The Config properties of the NESTED sections that KEYS reads (under another name for sizes). */
const KNOWN_PROPS: Record<(typeof NESTED)[number], readonly string[]> = {
  logging: ["level", "dir", "retentionDays", "logBodies", "requestLog"],
  limits: [
    "maxBodyBytes",
    "headersTimeoutMs",
    "requestTimeoutMs",
    "upstreamConnectTimeoutMs",
    "upstreamFirstByteTimeoutMs",
    "upstreamIdleTimeoutMs",
    "shutdownGraceSeconds",
    "maxHeaderBytes",
    "authFailuresPerMinute",
    "authBlockSeconds",
    "sendTimeoutMs",
    "bodyTimeoutMs",
  ],
  metrics: ["enabled", "token"],
  health: ["intervalSeconds", "timeoutMs", "slowThresholdMs", "failuresBeforeDown", "successesBeforeUp"],
  scheduler: ["maxQueue", "maxWaitSeconds", "modelAffinityMs", "fairShareWindowSeconds"],
};

/** A named section (servers as a list, policies as a map) by entry name. */
function entries(value: unknown): Map<string, unknown> {
  if (value instanceof Map) return new Map(value);
  if (Array.isArray(value)) return new Map(value.map((v: { key: string }) => [v.key, v]));
  return new Map();
}

/** `externalHosts` → `external_hosts`: the file's spelling of a Config property. */
function snake(prop: string): string {
  return prop.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Deep equality over what a Config holds: plain values, arrays, objects, Maps and RegExps. */
function same(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (a instanceof RegExp || b instanceof RegExp)
    return a instanceof RegExp && b instanceof RegExp && a.source === b.source && a.flags === b.flags;
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map && b instanceof Map) || a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !same(v, b.get(k))) return false;
    return true;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** `proxy_port (11434 at start, 11500 in the file)`: a restart key with its two values when they are plain. */
export function describeRestartKey(key: string, boot: Config, next: Config): string {
  const k = KEYS.find((x) => x.name === key);
  const plain = (v: unknown) => typeof v === "number" || typeof v === "string" || v === null;
  if (k === undefined) return key;
  const was = (k.show ?? k.read)(boot);
  const now = (k.show ?? k.read)(next);
  if (!plain(was) || !plain(now)) return key;
  return `${key} (${String(was)} at start, ${String(now)} in the file)`;
}
