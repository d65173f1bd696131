import type { Config } from "../config/types.js";
import { normalizeModel } from "../model-name.js";
import type { Fleet } from "./fleet.js";
import type { ServerState } from "./server-state.js";
import { nextCandidate, type Route } from "./table.js";

/**
 * The model × server matrix behind `ollama-proxy models` (and `GET /proxy/models`): every
 * model any enabled server reports, where it is and is loaded, what routing would do with it
 * now — built from what the pollers last saw, without asking a server anything.
 */
export interface Inventory {
  readonly servers: readonly InventoryServer[];
  readonly models: readonly InventoryModel[];
}

/** One enabled server, as the pollers last saw it. */
export interface InventoryServer {
  /** The key under `servers:` (what `--servers` and `X-Ollama-Proxy-Server` take). */
  readonly name: string;
  readonly state: "unknown" | "up" | "down";
  /** Why it is down. */
  readonly error: string | null;
  readonly priority: number;
  readonly max_memory_gb: number | null;
}

/** One model: its size, what it needs, where routing sends it, and its place on each server. */
export interface InventoryModel {
  /** Normalised name (`llama3:latest`). */
  readonly model: string;
  /** Bytes, the largest any server reports; null when no server has it. */
  readonly size: number | null;
  /** The memory routing reckons it needs, and where that figure comes from. */
  readonly need_gb: number;
  readonly need_from: string;
  /** The server (or external host) a request for it would go to now; null when none. */
  readonly route: string | null;
  /** Why there is no route, or what is odd about it; null when nothing is. */
  readonly note: string | null;
  /** By server name. */
  readonly servers: Readonly<Record<string, ModelOnServer>>;
}

/** A model on one server. */
export interface ModelOnServer {
  /** In the server's /api/tags (the last list it gave, also while it is down). */
  readonly present: boolean;
  /** In its /api/ps; never for a server that is down. */
  readonly loaded: boolean;
  /** Whether the server's `max_memory_gb` admits the model's need. */
  readonly fits: boolean;
}

/**
 * The inventory of the fleet now: every model a server reports or `explicit_assignments`
 * names; `also` adds models no server has yet (the one about to be pulled).
 */
export function buildInventory(config: Config, fleet: Fleet, also: readonly string[] = []): Inventory {
  const states = fleet.servers();
  const names = new Set<string>(config.models.explicitAssignments.keys());
  for (const s of states) for (const key of s.models.keys()) names.add(key);
  for (const m of also) names.add(normalizeModel(m));
  const models = [...names].sort().map((key) => modelRow(fleet, states, key));
  return {
    servers: states.map((s) => ({
      name: s.key,
      state: s.health,
      error: s.health === "down" ? s.downReason : null,
      priority: s.config.priority,
      max_memory_gb: s.config.maxMemoryGb,
    })),
    models,
  };
}

function modelRow(fleet: Fleet, states: readonly ServerState[], key: string): InventoryModel {
  const table = fleet.table();
  const need = table.memoryNeed(key);
  let size: number | null = null;
  const servers: Record<string, ModelOnServer> = {};
  for (const s of states) {
    const tag = s.models.get(key);
    if (tag !== undefined) size = Math.max(size ?? 0, tag.size);
    servers[s.key] = {
      present: tag !== undefined,
      loaded: s.health !== "down" && s.loaded.has(key),
      fits: s.config.maxMemoryGb === null || s.config.maxMemoryGb >= need.gb,
    };
  }
  const { route, note } = routeOf(table.route(key), states, key);
  return { model: key, size, need_gb: need.gb, need_from: need.from, route, note, servers };
}

/** Where routing sends the model now, and a word on why when that is nowhere or not where it is. */
function routeOf(
  r: Route,
  states: readonly ServerState[],
  key: string,
): { route: string | null; note: string | null } {
  switch (r.kind) {
    case "error":
    case "unavailable":
      return { route: null, note: r.error.message };
    case "external":
      return {
        route: r.host.key,
        note: r.hostUsable
          ? `assigned to external host ${r.host.key}`
          : `assigned to external host ${r.host.key}, which is not usable`,
      };
    case "ollama": {
      const first = nextCandidate(r.tiers, null);
      if (first === null) return { route: null, note: "every candidate server is down" };
      if (r.haveModel) return { route: first.key, note: null };
      const holders = states.filter((s) => s.models.has(key)).map((s) => s.key);
      return {
        route: first.key,
        note:
          holders.length === 0
            ? `no server has it: ${first.key} would pull it (or answer 404)`
            : `on ${holders.join(", ")}, which cannot take it now: ${first.key} would answer instead`,
      };
    }
  }
}
