import { normalizeModel } from "../model-name.js";

/**
 * A policy's `models` list, compiled once per config: globs over normalised model names
 * (`llama3` is `llama3:latest`), `!` excludes, the last matching pattern decides, and a name
 * no pattern matches is not allowed.
 */
export interface ModelRules {
  /** The list ends with `"*"`: every model is allowed, without a look at the name. */
  readonly all: boolean;
  readonly rules: readonly ModelRule[];
}

interface ModelRule {
  readonly exclude: boolean;
  /** A pattern without `*` or `?` names one model: its normalised name. */
  readonly exact: string | null;
  readonly regex: RegExp | null;
}

/**
 * Compiles patterns as the config gives them (checked by `patternProblem`). `*` is any run of
 * characters (`:` and `/` included), `?` one character; the rest is literal and compared
 * case-insensitively, as Ollama compares names.
 */
export function compileModelRules(patterns: readonly string[]): ModelRules {
  const rules = patterns.map((p): ModelRule => {
    const exclude = p.startsWith("!");
    const body = (exclude ? p.slice(1) : p).trim();
    if (!/[*?]/.test(body)) return { exclude, exact: normalizeModel(body), regex: null };
    const source = body
      .toLowerCase()
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replaceAll("*", ".*")
      .replaceAll("?", ".");
    return { exclude, exact: null, regex: new RegExp(`^${source}$`, "s") };
  });
  const last = patterns.at(-1);
  return { all: last !== undefined && /^\*+$/.test(last), rules };
}

/** True when the rules allow `model` (as the client wrote it; normalised here). */
export function allowsModel(rules: ModelRules, model: string): boolean {
  if (rules.all) return true;
  const name = normalizeModel(model);
  // Last match wins: the first match from the end decides.
  for (let i = rules.rules.length - 1; i >= 0; i--) {
    const r = rules.rules[i]!;
    if (r.exact !== null ? r.exact === name : r.regex!.test(name)) return !r.exclude;
  }
  return false;
}

type Json = Record<string, unknown>;

/** The listings a user sees, and where each names its models. */
export type ListingKind = "tags" | "ps" | "models";

/**
 * A listing (`/api/tags`, `/api/ps`: `{models: [{name, model}]}`; `/v1/models`:
 * `{data: [{id}]}`) with only the models the rules allow. The body is returned as it is when
 * every model is allowed; else a copy with the list filtered (the entries are shared).
 */
export function filterListing(rules: ModelRules, kind: ListingKind, body: Json): Json {
  if (rules.all) return body;
  const key = kind === "models" ? "data" : "models";
  const list = body[key];
  if (!Array.isArray(list)) return body;
  const kept = list.filter((entry: unknown) => {
    const name = entryName(kind, entry);
    return name !== null && allowsModel(rules, name);
  });
  return { ...body, [key]: kept };
}

/** Model names (as `/proxy/me` lists them) that the rules allow. */
export function filterNames(rules: ModelRules, names: readonly string[]): string[] {
  return rules.all ? [...names] : names.filter((n) => allowsModel(rules, n));
}

function entryName(kind: ListingKind, entry: unknown): string | null {
  if (typeof entry !== "object" || entry === null) return null;
  const e = entry as Json;
  const name = kind === "models" ? e.id : (e.name ?? e.model);
  return typeof name === "string" ? name : null;
}
