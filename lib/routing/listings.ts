import type { Config } from "../config/types.js";
import type { Json } from "../json.js";
import { normalizeModel } from "../model-name.js";
import type { Fleet } from "./fleet.js";
import type { ServerState } from "./server-state.js";

/**
 * The fleet-wide listings, built from what the pollers last saw (no upstream call on the
 * request path). Each model appears once; `servers` (a field clients ignore) says where it is.
 */

interface Merged {
  readonly raw: Json;
  readonly servers: string[];
}

/** Servers whose loaded models may be listed: enabled and not down. */
function listed(fleet: Fleet): ServerState[] {
  return fleet.servers().filter((s) => s.usable);
}

function merge(
  servers: readonly ServerState[],
  pick: (s: ServerState) => Iterable<[string, { raw: Json }]>,
): Map<string, Merged> {
  const out = new Map<string, Merged>();
  for (const s of servers) {
    for (const [key, entry] of pick(s)) {
      const m = out.get(key);
      if (m === undefined) out.set(key, { raw: entry.raw, servers: [s.key] });
      else m.servers.push(s.key);
    }
  }
  return out;
}

/**
 * The models a client can use, each from the servers the routing table would send it to: a
 * model only on down servers, or only where it does not fit (max_memory_gb), is not listed,
 * so that nothing in a listing answers "not found" or 503 when asked for.
 */
function servable(fleet: Fleet): Map<string, Merged> {
  const table = fleet.table();
  return merge(listed(fleet), (s) =>
    [...s.models].filter(([key]) => {
      const r = table.route(key);
      return r.kind === "ollama" && r.tiers.some((tier) => tier.includes(s));
    }),
  );
}

/** Models explicitly assigned to a usable external host, as (name, host key). */
function externalModels(config: Config, fleet: Fleet): { name: string; key: string; host: string }[] {
  const usable = new Set(
    fleet
      .externals()
      .filter((e) => e.usable)
      .map((e) => e.config.key),
  );
  const out: { name: string; key: string; host: string }[] = [];
  for (const [key, a] of config.models.explicitAssignments) {
    if (usable.has(a.target)) out.push({ name: a.model, key, host: a.target });
  }
  return out;
}

/** GET /api/tags */
export function tagsListing(config: Config, fleet: Fleet, startedAt: string): Json {
  const merged = servable(fleet);
  const models: Json[] = [];
  for (const m of merged.values()) models.push({ ...m.raw, servers: m.servers });
  for (const e of externalModels(config, fleet)) {
    if (merged.has(e.key)) continue;
    models.push({
      name: e.name,
      model: e.name,
      modified_at: startedAt,
      size: 0,
      digest: "",
      details: {
        parent_model: "",
        format: "external",
        family: "",
        families: null,
        parameter_size: "",
        quantization_level: "",
      },
      servers: [e.host],
    });
  }
  return { models };
}

/** The names of every model the fleet can serve (what /api/tags lists), sorted. */
export function modelNames(config: Config, fleet: Fleet): string[] {
  const merged = servable(fleet);
  const names = [...merged.values()].map((m) => String(m.raw.name ?? m.raw.model ?? ""));
  for (const e of externalModels(config, fleet)) if (!merged.has(e.key)) names.push(e.name);
  return names.sort();
}

/** GET /api/ps */
export function psListing(fleet: Fleet): Json {
  const merged = merge(listed(fleet), (s) => s.loaded);
  return { models: [...merged.values()].map((m) => ({ ...m.raw, servers: m.servers })) };
}

/** GET /v1/models, in OpenAI's shape (as Ollama serves it). */
export function openaiModels(config: Config, fleet: Fleet): Json {
  const data: Json[] = [];
  const merged = servable(fleet);
  for (const m of merged.values()) data.push(openaiModel(m.raw, m.servers));
  for (const e of externalModels(config, fleet)) {
    if (!merged.has(e.key))
      data.push({ id: e.name, object: "model", created: 0, owned_by: e.host, servers: [e.host] });
  }
  return { object: "list", data };
}

/** GET /v1/models/{model}: the entry, or null when no server and no assignment knows it. */
export function openaiModelInfo(config: Config, fleet: Fleet, name: string): Json | null {
  const key = normalizeModel(name);
  const merged = servable(fleet).get(key);
  if (merged !== undefined) return openaiModel(merged.raw, merged.servers);
  const e = externalModels(config, fleet).find((m) => m.key === key);
  return e === undefined ? null : { id: e.name, object: "model", created: 0, owned_by: e.host };
}

function openaiModel(raw: Json, servers: string[]): Json {
  const name = String(raw.name ?? raw.model ?? "");
  const modified = typeof raw.modified_at === "string" ? Date.parse(raw.modified_at) : Number.NaN;
  const slash = name.indexOf("/");
  return {
    id: name,
    object: "model",
    created: Number.isFinite(modified) ? Math.floor(modified / 1000) : 0,
    owned_by: slash === -1 ? "library" : name.slice(0, slash),
    servers,
  };
}

/** GET /api/version: the lowest version any live backend runs (what every client can count on). */
export function fleetVersion(fleet: Fleet, own: string): string {
  let lowest: string | null = null;
  for (const s of fleet.servers()) {
    if (s.health !== "up" || s.version === null) continue;
    if (lowest === null || compareVersions(s.version, lowest) < 0) lowest = s.version;
  }
  return lowest ?? own;
}

/** Compares dotted versions numerically (0.10.0 > 0.9.3); a pre-release sorts before its release. */
export function compareVersions(a: string, b: string): number {
  const [ma, pa] = splitVersion(a);
  const [mb, pb] = splitVersion(b);
  for (let i = 0; i < Math.max(ma.length, mb.length); i++) {
    const d = (ma[i] ?? 0) - (mb[i] ?? 0);
    if (d !== 0) return d;
  }
  if (pa === pb) return 0;
  if (pa === "") return 1;
  if (pb === "") return -1;
  return pa < pb ? -1 : 1;
}

function splitVersion(v: string): [number[], string] {
  const [main = "", pre = ""] = v.replace(/^v/, "").split(/-(.*)/s);
  return [main.split(".").map((x) => Number.parseInt(x, 10) || 0), pre];
}
