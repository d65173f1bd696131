import type { ComponentHealth } from "../component.js";
import type { Fleet } from "../routing/fleet.js";

export type OverallStatus = "ok" | "degraded" | "down";

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
  }[];
  external_hosts: { name: string; type: string; usable: boolean; reason: string | null }[];
  components: ComponentHealth[];
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
  },
): HealthReport {
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
  };
}
