import type { PolicyOptions } from "../config/types.js";
import { goKeysFor } from "./go-keys.js";

/**
 * A policy's `options` rules applied to a parsed request body. Only fields Ollama reads on
 * that endpoint are touched (its docs/api.md; for /v1, openai/openai.go and openai/responses.go;
 * for /v1/messages, anthropic/anthropic.go):
 *
 * | path                                | num_ctx_max         | num_predict_max       | keep_alive   |
 * | ----------------------------------- | ------------------- | --------------------- | ------------ |
 * | /api/generate, /api/chat            | options.num_ctx     | options.num_predict   | keep_alive   |
 * | /api/embed, /api/embeddings         | options.num_ctx     | (nothing to generate) | keep_alive   |
 * | /v1/chat/completions, /v1/completions | (no field)        | max_tokens            | (no field)   |
 * | /v1/responses                       | (no field)          | max_output_tokens     | (no field)   |
 * | /v1/messages                        | (no field)          | max_tokens            | (no field)   |
 * | /v1/embeddings                      | (no field)          | (no field)            | (no field)   |
 *
 * Ollama's /v1 endpoints drop `options` and `keep_alive` (they are not in its request types),
 * so the model's own num_ctx and the server's OLLAMA_KEEP_ALIVE apply there.
 */
const ENDPOINTS = new Map<string, Fields>([
  ["/api/generate", { numCtx: true, keepAlive: true, predict: { in: "options" } }],
  ["/api/chat", { numCtx: true, keepAlive: true, predict: { in: "options" } }],
  ["/api/embed", { numCtx: true, keepAlive: true, predict: null }],
  ["/api/embeddings", { numCtx: true, keepAlive: true, predict: null }],
  ["/v1/chat/completions", { numCtx: false, keepAlive: false, predict: top("max_tokens", true) }],
  ["/v1/completions", { numCtx: false, keepAlive: false, predict: top("max_tokens", true) }],
  ["/v1/responses", { numCtx: false, keepAlive: false, predict: top("max_output_tokens", true) }],
  // Anthropic's max_tokens is required: a body without one is Ollama's 400 to give, not ours to fill.
  ["/v1/messages", { numCtx: false, keepAlive: false, predict: top("max_tokens", false) }],
]);

interface Fields {
  readonly numCtx: boolean;
  readonly keepAlive: boolean;
  /** Where the generation cap lives: in `options`, or a top-level field of the OpenAI/Anthropic body. */
  readonly predict:
    | { readonly in: "options" }
    | { readonly in: "top"; readonly key: string; readonly fill: boolean }
    | null;
}

function top(key: string, fill: boolean): Fields["predict"] {
  return { in: "top", key, fill };
}

type Json = Record<string, unknown>;

/**
 * Applies `rules` to `body` in place for the endpoint at `path`; true when the body changed (it
 * must then be sent re-encoded). Clamping:
 * - `num_ctx` above `num_ctx_max` becomes the max; a body without one keeps the model's default
 *   (set by the operator; forcing a value would make Ollama reload models whose default differs);
 * - `num_predict` (`max_tokens`, `max_output_tokens`) above the max, negative (Ollama: without
 *   end) or absent becomes the max;
 * - `keep_alive` becomes the policy's, whatever the body said.
 * A value of the wrong type is left alone: Ollama refuses such a body with 400.
 */
export function rewriteBody(rules: PolicyOptions, path: string, body: unknown): boolean {
  const fields = ENDPOINTS.get(path);
  if (fields === undefined || !isPlainObject(body)) return false;
  let changed = false;

  const numCtxMax = fields.numCtx ? rules.numCtxMax : null;
  const predictMax = fields.predict !== null ? rules.numPredictMax : null;
  if (numCtxMax !== null || (predictMax !== null && fields.predict?.in === "options")) {
    const options = collapse(body, "options", mergeOptions);
    if (options === INVALID) return false;
    changed ||= options.changed;
    let o = body.options;
    if (o !== undefined && o !== null && !isPlainObject(o)) return changed;
    if (numCtxMax !== null && isPlainObject(o) && typeof o.num_ctx === "number" && o.num_ctx > numCtxMax) {
      o.num_ctx = numCtxMax;
      changed = true;
    }
    if (predictMax !== null && fields.predict?.in === "options") {
      const v = isPlainObject(o) ? o.num_predict : undefined;
      if (needsCap(v, predictMax, true)) {
        if (!isPlainObject(o)) {
          o = {};
          body.options = o;
        }
        (o as Json).num_predict = predictMax;
        changed = true;
      }
    }
  }

  if (predictMax !== null && fields.predict?.in === "top") {
    const { key, fill } = fields.predict;
    const found = collapse(body, key, lastWins);
    if (found !== INVALID) changed ||= found.changed;
    if (needsCap(body[key], predictMax, fill)) {
      body[key] = predictMax;
      changed = true;
    }
  }

  if (fields.keepAlive && rules.keepAlive !== null) {
    const found = collapse(body, "keep_alive", lastWins);
    if (found !== INVALID) changed ||= found.changed;
    if (body.keep_alive !== rules.keepAlive) {
      body.keep_alive = rules.keepAlive;
      changed = true;
    }
  }
  return changed;
}

/** True when `rules` can change a body sent to `path`: only then need the body be parsed at all. */
export function rewritesOn(rules: PolicyOptions, path: string): boolean {
  const f = ENDPOINTS.get(path);
  if (f === undefined) return false;
  return (
    (f.numCtx && rules.numCtxMax !== null) ||
    (f.predict !== null && rules.numPredictMax !== null) ||
    (f.keepAlive && rules.keepAlive !== null)
  );
}

/** True when a generation cap must be written: too high, negative (no end), or absent and `fill`. */
function needsCap(value: unknown, max: number, fill: boolean): boolean {
  if (value === undefined || value === null) return fill;
  return typeof value === "number" && (value > max || value < 0);
}

const INVALID = Symbol("invalid");

/**
 * Ollama reads every Go spelling of a field (go-keys.ts), the last one winning:
 * `{"keep_alive":"5m","KEEP_ALIVE":-1}` keeps the model forever. So every spelling of
 * `canonical` is removed and their combined value set once, under the canonical name, where
 * this module and Ollama both read it.
 */
function collapse(
  body: Json,
  canonical: string,
  combine: (values: unknown[]) => unknown | typeof INVALID,
): { changed: boolean } | typeof INVALID {
  const keys = goKeysFor(body, canonical);
  if (keys.length === 0 || (keys.length === 1 && keys[0] === canonical)) return { changed: false };
  const value = combine(keys.map((k) => body[k]));
  if (value === INVALID) return INVALID;
  for (const k of keys) delete body[k];
  body[canonical] = value;
  return { changed: true };
}

function lastWins(values: unknown[]): unknown {
  return values.at(-1);
}

/** Go decodes every spelling into the same map: entries merge, a later one wins, `null` empties it. */
function mergeOptions(values: unknown[]): Json | null | typeof INVALID {
  let merged: Json | null = null;
  for (const v of values) {
    if (v === null) merged = null;
    else if (isPlainObject(v)) merged = { ...(merged ?? {}), ...v };
    else return INVALID;
  }
  return merged;
}

function isPlainObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
