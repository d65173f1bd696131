import type { ComponentHealth } from "../component.js";
import type { ReloadFailure } from "../config/reload.js";
import type { Fleet } from "../routing/fleet.js";
import type { SchedulerSnapshot, ServerSchedule } from "../schedule/types.js";

export type OverallStatus = "ok" | "degraded" | "down";

/** The config a running proxy uses and what its last reload did (for /health and /metrics). */
export interface ConfigStatus {
  readonly file: string;
  readonly env: string;
  /** When the config in use was read: at start, or by the last reload that succeeded (epoch ms). */
  readonly loadedAt: number;
  /** null until the first SIGHUP. */
  readonly lastReload: ReloadOutcome | null;
  /** Keys whose value in the file differs from what the process started with: they wait for a restart. */
  readonly needsRestart: readonly string[];
}

/**
 * What the last reload did: applied the file (naming the keys that changed, and any that
 * could not be applied, like a certificate that does not load), or kept the running config.
 */
export type ReloadOutcome =
  | {
      readonly kind: "applied";
      readonly at: number;
      readonly applied: readonly string[];
      readonly failed: readonly ReloadFailure[];
    }
  | { readonly kind: "failed"; readonly at: number; readonly error: string };

/** The `config` part of GET /health. */
export interface ConfigHealth {
  file: string;
  env: string;
  loaded_at: string;
  last_reload:
    | null
    | { at: string; ok: true; applied: string[] }
    | { at: string; ok: false; error: string; applied?: string[] };
  needs_restart: string[];
}

/** The body of GET /health: nothing secret (no addresses, no keys), everything an operator asks first. */
export interface HealthReport {
  status: OverallStatus;
  version: string;
  uptime_s: number;
  shutting_down: boolean;
  servers: {
    name: string;
    healthy: boolean;
    state: "unknown" | "up" | "down";
    latency_ms: number | null;
    slow: boolean;
    models: number;
    loaded: string[];
    in_flight: number;
    priority: number;
    max_memory_gb: number | null;
    version: string | null;
    last_poll: string | null;
    error: string | null;
    /** With `parallel` set: the scheduler's slots and queue for this server. */
    schedule?: { parallel: number | null; in_flight_by_model: Record<string, number>; waiting: number };
  }[];
  external_hosts: { name: string; type: string; usable: boolean; reason: string | null }[];
  /** When some server has `parallel`: requests waiting in the proxy for a slot. */
  queue?: { waiting: number; oldest_wait_ms: number; waiting_by_model: Record<string, number> };
  components: ComponentHealth[];
  config: ConfigHealth;
}

/**
 * ok: every enabled server up and every component fine; degraded: at least one server can
 * serve but something is wrong; down: no server can serve, or the proxy is shutting down.
 */
export function healthReport(
  fleet: Fleet,
  opts: {
    version: string;
    startedAt: number;
    shuttingDown: boolean;
    slowMs: number;
    components: ComponentHealth[];
    config: ConfigStatus;
    /** The scheduler's counters, when some server has `parallel`. */
    schedule?: SchedulerSnapshot | null;
  },
): HealthReport {
  const slots = new Map(opts.schedule?.servers.map((s) => [s.key, s]));
  const servers = fleet.servers().map((s) => ({
    name: s.config.name,
    healthy: s.health === "up",
    state: s.health,
    latency_ms: s.latencyMs === null ? null : Math.round(s.latencyMs * 10) / 10,
    slow: s.isSlow(opts.slowMs),
    models: s.models.size,
    // What a down server last had loaded is gone or unreachable: not "loaded" for anyone.
    loaded: s.health === "down" ? [] : [...s.loaded.values()].map((m) => m.name),
    in_flight: s.inFlight,
    priority: s.config.priority,
    max_memory_gb: s.config.maxMemoryGb,
    version: s.version,
    last_poll: s.lastPollAt === 0 ? null : new Date(s.lastPollAt).toISOString(),
    error: s.downReason,
    ...scheduleOf(slots.get(s.key)),
  }));
  const externals = fleet.externals();
  const canServe = servers.some((s) => s.healthy) || externals.some((e) => e.usable);
  const allWell =
    servers.every((s) => s.healthy) &&
    externals.every((e) => e.usable || !e.config.enabled) &&
    opts.components.every((c) => c.ok);
  const status: OverallStatus = opts.shuttingDown || !canServe ? "down" : allWell ? "ok" : "degraded";
  return {
    status,
    version: opts.version,
    uptime_s: Math.round((Date.now() - opts.startedAt) / 1000),
    shutting_down: opts.shuttingDown,
    servers,
    external_hosts: externals.map((e) => ({
      name: e.config.name,
      type: e.config.type,
      usable: e.usable,
      reason: e.reason,
    })),
    components: opts.components,
    config: configHealth(opts.config),
    ...(opts.schedule
      ? {
          queue: {
            waiting: opts.schedule.waiting,
            oldest_wait_ms: Math.round(opts.schedule.oldestWaitMs),
            waiting_by_model: { ...opts.schedule.waitingByModel },
          },
        }
      : {}),
  };
}

function scheduleOf(s: ServerSchedule | undefined) {
  if (s === undefined) return {};
  return {
    schedule: { parallel: s.parallel, in_flight_by_model: { ...s.inFlightByModel }, waiting: s.waiting },
  };
}

/**
 * The config's state as /health shows it. A failed reload or a key waiting for a restart does
 * not change the overall status: the running config is whole, and paging someone for an
 * edited file would be a false alarm (the reload gauge in /metrics is there to alert on).
 */
function configHealth(c: ConfigStatus): ConfigHealth {
  const iso = (ms: number) => new Date(ms).toISOString();
  const r = c.lastReload;
  return {
    file: c.file,
    env: c.env,
    loaded_at: iso(c.loadedAt),
    last_reload:
      r === null
        ? null
        : r.kind === "failed"
          ? { at: iso(r.at), ok: false, error: r.error }
          : r.failed.length > 0
            ? {
                at: iso(r.at),
                ok: false,
                error: r.failed.map((f) => `${f.key}: ${f.error}`).join("; "),
                applied: [...r.applied],
              }
            : { at: iso(r.at), ok: true, applied: [...r.applied] },
    needs_restart: [...c.needsRestart],
  };
}
