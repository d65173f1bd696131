import type { Config } from "../config/types.js";
import type { Logger } from "../log/app-log.js";
import { normalizeModel } from "../model-name.js";
import { type PsEntry, ServerState, type TagEntry } from "./server-state.js";
import { type ExternalState, RoutingTable } from "./table.js";

/** The fleet: every backend's live state, its pollers, and the current routing table. */
export interface Fleet {
  /** The current snapshot (swapped whole; never mutated). */
  table(): RoutingTable;
  /** Enabled servers, in configured order. */
  servers(): readonly ServerState[];
  externals(): readonly ExternalState[];
  /** A request could not reach the server: mark it down now; the pollers bring it back. */
  markDown(server: ServerState, reason: string): void;
  /** Re-read a server's model list at once (after a pull, delete, copy or create). */
  refreshModels(server: ServerState): void;
  /** Resolves when every enabled server has been polled once (or failed to answer). */
  ready(): Promise<void>;
  /** Applies a new config: keeps the state of unchanged servers, starts and stops pollers. */
  reconfigure(config: Config): void;
  close(): void;
}

/** What the fleet tells the rest of the proxy as it happens. */
export interface FleetHooks {
  /** A server was just marked down (by its polls or by a request that could not reach it). */
  serverDown?(s: ServerState): void;
}

/** How much each new latency sample moves the moving average. */
const LATENCY_WEIGHT = 0.3;

/**
 * Starts one poller per enabled server. Each poll asks /api/version (liveness, latency) and
 * /api/ps (loaded models) and, when the cached list is older than cache_ttl_seconds,
 * /api/tags. It never asks for a completion: that would load a model.
 */
export function startFleet(
  initial: Config,
  log: Logger,
  environ: NodeJS.ProcessEnv = process.env,
  hooks: FleetHooks = {},
): Fleet {
  let config = initial;
  let states = new Map<string, ServerState>();
  let externals: ExternalState[] = [];
  let table: RoutingTable;
  let closed = false;
  const timers = new Map<ServerState, NodeJS.Timeout>();
  const firstPolls: Promise<void>[] = [];

  const rebuild = () => {
    table = new RoutingTable(config, [...states.values()], externals, Date.now());
  };

  const externalStates = (cfg: Config): ExternalState[] =>
    cfg.externalHosts.map((h) => {
      if (!h.enabled) return { config: h, usable: false, reason: "disabled in the config" };
      if (h.apiKeyEnv !== null && !environ[h.apiKeyEnv]) {
        return { config: h, usable: false, reason: `environment variable ${h.apiKeyEnv} is not set` };
      }
      return { config: h, usable: true, reason: null };
    });

  const wentDown = (s: ServerState, reason: string | null) => {
    log.warn({ server: s.key, reason }, "server down");
    hooks.serverDown?.(s);
  };

  const setHealth = (s: ServerState, ok: boolean, reason: string | null) => {
    const before = s.health;
    if (ok) {
      s.consecutiveFailures = 0;
      s.consecutiveSuccesses++;
      if (
        s.health === "unknown" ||
        (s.health === "down" && s.consecutiveSuccesses >= config.health.successesBeforeUp)
      ) {
        s.health = "up";
        s.downReason = null;
      }
    } else {
      s.consecutiveSuccesses = 0;
      s.consecutiveFailures++;
      s.downReason = reason;
      if (s.health === "unknown" || s.consecutiveFailures >= config.health.failuresBeforeDown)
        s.health = "down";
    }
    if (before !== s.health) {
      if (s.health === "down") wentDown(s, reason);
      else log.info({ server: s.key, latencyMs: s.latencyMs }, "server up");
    }
    return before !== s.health;
  };

  const poll = async (s: ServerState): Promise<void> => {
    const now = Date.now();
    const timeoutMs = config.health.timeoutMs;
    const wantTags = s.modelsAt === 0 || now - s.modelsAt >= config.cacheTtlSeconds * 1000;
    const started = performance.now();
    const [version, ps, tags] = await Promise.allSettled([
      getJson(s, "/api/version", timeoutMs),
      getJson(s, "/api/ps", timeoutMs),
      wantTags ? getJson(s, "/api/tags", timeoutMs) : Promise.resolve(null),
    ]);
    if (closed || states.get(s.key) !== s) return;
    s.lastPollAt = Date.now();
    let changed = false;
    if (version.status === "fulfilled") {
      const sample = performance.now() - started;
      const wasSlow = s.isSlow(config.health.slowThresholdMs);
      s.latencyMs = s.latencyMs === null ? sample : s.latencyMs + LATENCY_WEIGHT * (sample - s.latencyMs);
      s.version =
        typeof (version.value as { version?: unknown })?.version === "string"
          ? (version.value as { version: string }).version
          : null;
      changed = setHealth(s, true, null) || wasSlow !== s.isSlow(config.health.slowThresholdMs);
    } else {
      changed = setHealth(s, false, describe(version.reason));
    }
    if (ps.status === "fulfilled") {
      const loaded = parsePs(ps.value);
      if (!sameKeys(loaded, s.loaded)) changed = true;
      s.loaded = loaded;
    }
    if (tags.status === "fulfilled" && tags.value !== null) {
      const models = parseTags(tags.value);
      if (!sameModels(models, s.models)) changed = true;
      s.models = models;
      s.modelsAt = s.lastPollAt;
    } else if (
      version.status === "fulfilled" &&
      s.modelsAt !== 0 &&
      s.lastPollAt - s.modelsAt > config.cacheTtlSeconds * 1000 * 2 &&
      s.models.size > 0
    ) {
      // Past its trust period and not refreshable from a server that answers: forget it rather
      // than route on a stale list. A server that does not answer at all keeps its last-known
      // list until it does: no request goes to it once it is down, and the list is what lets
      // the table say "on mid, which is down" instead of sending the model where it is not.
      s.models = new Map();
      s.modelsAt = 0;
      changed = true;
    }
    if (changed) rebuild();
  };

  const schedule = (s: ServerState, delayMs: number) => {
    if (closed) return;
    const t = setTimeout(() => {
      poll(s).finally(() => {
        if (states.get(s.key) === s) schedule(s, config.health.intervalSeconds * 1000);
      });
    }, delayMs);
    t.unref();
    timers.set(s, t);
  };

  /** Stops polling a server; its connections close once the requests still running on them are over. */
  const stop = (s: ServerState) => {
    clearTimeout(timers.get(s));
    timers.delete(s);
    if (s.inFlight === 0) {
      s.agent.destroy();
      return;
    }
    const wait = setInterval(() => {
      if (s.inFlight > 0) return;
      clearInterval(wait);
      s.agent.destroy();
    }, 1000);
    wait.unref();
  };

  const apply = (cfg: Config) => {
    config = cfg;
    externals = externalStates(cfg);
    const next = new Map<string, ServerState>();
    for (const sc of cfg.servers) {
      if (!sc.enabled) continue;
      const old = states.get(sc.key);
      if (old !== undefined && old.config.origin === sc.origin) {
        old.config = sc;
        next.set(sc.key, old);
      } else {
        next.set(sc.key, new ServerState(sc));
      }
    }
    for (const [key, s] of states) if (next.get(key) !== s) stop(s);
    const fresh = [...next.values()].filter((s) => !timers.has(s));
    states = next;
    rebuild();
    for (const s of fresh) {
      firstPolls.push(poll(s));
      schedule(s, config.health.intervalSeconds * 1000);
    }
    for (const e of externals) {
      if (e.config.enabled && !e.usable)
        log.warn({ host: e.config.key, reason: e.reason }, "external host disabled");
    }
  };

  apply(initial);
  table = table!;

  return {
    table: () => table,
    servers: () => [...states.values()],
    externals: () => externals,
    markDown(s, reason) {
      if (states.get(s.key) !== s) return;
      s.consecutiveSuccesses = 0;
      s.downReason = reason;
      if (s.health !== "down") {
        s.health = "down";
        wentDown(s, reason);
        rebuild();
      }
    },
    refreshModels(s) {
      if (states.get(s.key) !== s) return;
      getJson(s, "/api/tags", config.health.timeoutMs).then(
        (body) => {
          if (states.get(s.key) !== s) return;
          s.models = parseTags(body);
          s.modelsAt = Date.now();
          rebuild();
        },
        () => {},
      );
    },
    ready: () => Promise.allSettled(firstPolls).then(() => undefined),
    reconfigure: apply,
    close() {
      closed = true;
      for (const s of states.values()) {
        clearTimeout(timers.get(s));
        s.agent.destroy();
      }
    },
  };
}

async function getJson(s: ServerState, path: string, timeoutMs: number): Promise<unknown> {
  const res = await fetch(s.config.origin + path, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`${path} answered ${res.status}`);
  return res.json();
}

function describe(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === "TimeoutError") return "health check timed out";
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}

/** The entries of an Ollama listing (`{"models": [...]}`) by normalised name; junk entries are skipped. */
function parseListing<T>(
  body: unknown,
  entry: (name: string, m: Record<string, unknown>) => T,
): Map<string, T> {
  const out = new Map<string, T>();
  const models = (body as { models?: unknown })?.models;
  if (!Array.isArray(models)) return out;
  for (const m of models as Record<string, unknown>[]) {
    const name = typeof m?.name === "string" ? m.name : typeof m?.model === "string" ? m.model : null;
    if (name !== null) out.set(normalizeModel(name), entry(name, m));
  }
  return out;
}

/** GET /api/tags: the models a server has. */
function parseTags(body: unknown): Map<string, TagEntry> {
  return parseListing(body, (name, m) => ({
    name,
    size: typeof m.size === "number" ? m.size : 0,
    digest: typeof m.digest === "string" ? m.digest : "",
    raw: m,
  }));
}

/** GET /api/ps: the models a server has loaded. */
function parsePs(body: unknown): Map<string, PsEntry> {
  return parseListing(body, (name, m) => ({
    name,
    sizeVram: typeof m.size_vram === "number" ? m.size_vram : 0,
    raw: m,
  }));
}

function sameKeys(a: ReadonlyMap<string, unknown>, b: ReadonlyMap<string, unknown>): boolean {
  if (a.size !== b.size) return false;
  for (const k of a.keys()) if (!b.has(k)) return false;
  return true;
}

function sameModels(a: ReadonlyMap<string, TagEntry>, b: ReadonlyMap<string, TagEntry>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w === undefined || w.digest !== v.digest || w.size !== v.size) return false;
  }
  return true;
}
