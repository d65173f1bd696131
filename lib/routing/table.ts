import type { Config, ExternalHostConfig } from "../config/types.js";
import { ProxyError } from "../errors.js";
import { normalizeModel } from "../model-name.js";
import type { ServerState } from "./server-state.js";

/** Where a model goes: an ordered list of Ollama servers, or one external API. */
export type Route =
  | {
      readonly kind: "ollama";
      readonly model: string;
      readonly needGb: number;
      /** Where the estimate came from: tags, override, pattern, default. */
      readonly needFrom: string;
      /** Candidates in tiers: every server of a tier ranks equal; within it the one with fewest requests in flight goes first. */
      readonly tiers: readonly (readonly ServerState[])[];
      /** True when the candidates were chosen because they have the model (not merely because they admit it). */
      readonly haveModel: boolean;
      readonly explicit: boolean;
    }
  /**
   * The model is on some server, but none that is up can take it (down, or its max_memory_gb is
   * below the model's size). `fallback`: the live servers that admit it by memory, for a pull.
   */
  | {
      readonly kind: "unavailable";
      readonly model: string;
      readonly error: ProxyError;
      readonly fallback: readonly (readonly ServerState[])[];
    }
  | {
      readonly kind: "external";
      readonly model: string;
      readonly host: ExternalHostConfig;
      readonly hostUsable: boolean;
    }
  | { readonly kind: "error"; readonly model: string; readonly error: ProxyError };

/** An external host and whether it can be used now (enabled, API key present). */
export interface ExternalState {
  readonly config: ExternalHostConfig;
  readonly usable: boolean;
  readonly reason: string | null;
}

/**
 * An immutable snapshot of the fleet, rebuilt by the pollers whenever something they saw
 * changed, and swapped in whole. Routes are computed once per model per snapshot; the
 * request path does a map lookup and reads in-flight counters.
 */
export class RoutingTable {
  readonly builtAt: number;
  private readonly config: Config;
  private readonly servers: readonly ServerState[];
  private readonly externals: ReadonlyMap<string, ExternalState>;
  /** Model (normalised) → largest size in GB any server reports for it. */
  private readonly sizes: ReadonlyMap<string, number>;
  private readonly routes = new Map<string, Route>();

  constructor(
    config: Config,
    servers: readonly ServerState[],
    externals: readonly ExternalState[],
    now: number,
  ) {
    this.builtAt = now;
    this.config = config;
    this.servers = servers.filter((s) => s.config.enabled);
    this.externals = new Map(externals.map((e) => [e.config.key, e]));
    const sizes = new Map<string, number>();
    for (const s of this.servers) {
      for (const [name, tag] of s.models) sizes.set(name, Math.max(sizes.get(name) ?? 0, tag.size / 1e9));
    }
    this.sizes = sizes;
  }

  /** The route for a model name as a client wrote it. */
  route(model: string): Route {
    const key = normalizeModel(model);
    let r = this.routes.get(key);
    if (r === undefined) {
      r = this.compute(key);
      // Clients can send any name; bound the memo so that junk names cannot grow it forever.
      if (this.routes.size >= 10_000) this.routes.clear();
      this.routes.set(key, r);
    }
    return r;
  }

  /** The memory a model needs: the servers' own report, else overrides, patterns, the default. */
  memoryNeed(key: string): { gb: number; from: string } {
    const tagged = this.sizes.get(key);
    if (tagged !== undefined) return { gb: tagged, from: "size reported by /api/tags" };
    const m = this.config.models;
    const override = m.memoryOverrides.get(key);
    if (override !== undefined) return { gb: override, from: "model_config.memory_overrides" };
    const bare = key.endsWith(":latest") ? key.slice(0, -7) : key;
    for (const p of m.memoryPatterns) {
      if (p.regex.test(key) || p.regex.test(bare))
        return { gb: p.memoryGb, from: `memory_patterns "${p.source}"` };
    }
    return { gb: m.defaultMemoryGb, from: "model_config.default_memory_gb" };
  }

  private compute(key: string): Route {
    const assigned = this.config.models.explicitAssignments.get(key);
    if (assigned !== undefined) return this.explicit(key, assigned.target);

    const { gb, from } = this.memoryNeed(key);
    const fits = (s: ServerState) => s.config.maxMemoryGb === null || s.config.maxMemoryGb >= gb;
    const live = this.servers.filter((s) => s.health !== "down");
    const admitting = live.filter(fits);
    const having = admitting.filter((s) => s.models.has(key));
    const route = (pool: readonly ServerState[], haveModel: boolean): Route => ({
      kind: "ollama",
      model: key,
      needGb: gb,
      needFrom: from,
      tiers: this.tiers(pool, key),
      haveModel,
      explicit: false,
    });
    if (having.length > 0) return route(having, true);

    if (live.length === 0)
      return { kind: "error", model: key, error: noServer("no Ollama server is available") };
    // The model exists, but only where it cannot run now: say so, rather than send it to a
    // server without it (whose Ollama would answer "not found, try pulling it first").
    const holders = this.servers.filter((s) => s.models.has(key));
    if (holders.length > 0) return this.unavailable(key, onlyOn(key, gb, holders, fits), admitting);
    // A down server that never listed its models may have this one: not knowing is not "not found".
    const unknown = this.servers.filter((s) => s.health === "down" && s.modelsAt === 0 && fits(s));
    if (unknown.length > 0) return this.unavailable(key, mayBeOn(key, unknown), admitting);

    // Nobody has it: the servers that admit it by memory (their Ollama pulls it or answers 404).
    if (admitting.length > 0) return route(admitting, false);
    const error = new ProxyError(
      "no_server",
      `no available server can run model "${key}": it needs about ${gb} GB (${from}) and every usable server's max_memory_gb is lower`,
    );
    return { kind: "error", model: key, error };
  }

  private unavailable(key: string, message: string, admitting: readonly ServerState[]): Route {
    const fallback = admitting.length === 0 ? [] : this.tiers(admitting, key);
    return { kind: "unavailable", model: key, error: noServer(message), fallback };
  }

  private explicit(key: string, target: string): Route {
    const server = this.servers.find((s) => s.key === target);
    if (server !== undefined) {
      if (server.health === "down") {
        return {
          kind: "error",
          model: key,
          error: noServer(`model "${key}" is assigned to server "${target}", which is down`),
        };
      }
      const { gb, from } = this.memoryNeed(key);
      return {
        kind: "ollama",
        model: key,
        needGb: gb,
        needFrom: from,
        tiers: [[server]],
        haveModel: true,
        explicit: true,
      };
    }
    const ext = this.externals.get(target);
    if (ext !== undefined) return { kind: "external", model: key, host: ext.config, hostUsable: ext.usable };
    return {
      kind: "error",
      model: key,
      error: new ProxyError(
        "no_server",
        `model "${key}" is assigned to "${target}", which is not an enabled server or external host`,
      ),
    };
  }

  /** Orders candidates: fast before slow, then priority (lower first), then model already loaded. */
  private tiers(pool: readonly ServerState[], key: string): ServerState[][] {
    const slowMs = this.config.health.slowThresholdMs;
    const rank = (s: ServerState) =>
      [s.isSlow(slowMs) ? 1 : 0, s.config.priority, s.loaded.has(key) ? 0 : 1] as const;
    const sorted = [...pool].sort((a, b) => {
      const ra = rank(a);
      const rb = rank(b);
      return ra[0] - rb[0] || ra[1] - rb[1] || ra[2] - rb[2];
    });
    const tiers: ServerState[][] = [];
    let prev: readonly number[] | null = null;
    for (const s of sorted) {
      const r = rank(s);
      if (prev !== null && r[0] === prev[0] && r[1] === prev[1] && r[2] === prev[2])
        tiers[tiers.length - 1]!.push(s);
      else tiers.push([s]);
      prev = r;
    }
    return tiers;
  }
}

/** Seconds a client is asked to wait when no server can take its model now (as the forwarder asks). */
const RETRY_AFTER_S = "5";

/** A 503 that may pass: the client is told when to try again. */
function noServer(message: string): ProxyError {
  return new ProxyError("no_server", message, { headers: { "retry-after": RETRY_AFTER_S } });
}

/**
 * Says where a model is when every server that has it is down or too small for it:
 * "qwen2.5:14b is on mid, which is down", "mistral:7b (4.1 GB) is only on second, whose
 * max_memory_gb is 4". A server both down and too small is named as too small: its coming
 * back would not help.
 */
function onlyOn(
  key: string,
  gb: number,
  holders: readonly ServerState[],
  fits: (s: ServerState) => boolean,
): string {
  const small = holders.filter((s) => !fits(s));
  const down = holders.filter((s) => fits(s));
  const parts: string[] = [];
  if (down.length > 0) parts.push(`${names(down)}, which ${down.length === 1 ? "is" : "are"} down`);
  if (small.length === 1)
    parts.push(`${small[0]!.key}, whose max_memory_gb is ${small[0]!.config.maxMemoryGb}`);
  else if (small.length > 1)
    parts.push(
      `${names(small)}, whose max_memory_gb (${small.map((s) => s.config.maxMemoryGb).join(", ")}) is too small`,
    );
  if (small.length === 0) return `${key} is on ${parts[0]}`;
  return `${key} (${roundGb(gb)} GB) is only on ${parts.join(", and on ")}`;
}

/** Says where a model may be when no live server has it and some down server never listed its models. */
function mayBeOn(key: string, unknown: readonly ServerState[]): string {
  const one = unknown.length === 1;
  return `${key} is not on any server that is up; it may be on ${names(unknown)}, which ${one ? "is" : "are"} down and ${one ? "has" : "have"} not listed ${one ? "its" : "their"} models`;
}

/** "a", "a and b", "a, b and c". */
function names(servers: readonly ServerState[]): string {
  const keys = servers.map((s) => s.key);
  return keys.length === 1 ? keys[0]! : `${keys.slice(0, -1).join(", ")} and ${keys[keys.length - 1]}`;
}

/** One decimal: 4.1 GB, 40 GB. */
function roundGb(gb: number): number {
  return Math.round(gb * 10) / 10;
}

/**
 * The order in which one request tries the candidates of a route: tier by tier, and within a
 * tier the server with fewest requests in flight first. Servers that went down since the
 * snapshot was built, and servers already tried, are skipped.
 */
export function nextCandidate(
  tiers: readonly (readonly ServerState[])[],
  tried: ReadonlySet<ServerState> | null,
): ServerState | null {
  for (const tier of tiers) {
    let best: ServerState | null = null;
    for (const s of tier) {
      if (s.health === "down" || tried?.has(s)) continue;
      if (best === null || s.inFlight < best.inFlight) best = s;
    }
    if (best !== null) return best;
  }
  return null;
}
