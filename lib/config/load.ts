import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { resolve } from "node:path";
import { Ajv, type ErrorObject } from "ajv";
import { parseDocument } from "yaml";
import schema from "../../schema/ollama-proxy.schema.json" with { type: "json" };
import { isObject } from "../json.js";
import { normalizeModel } from "../model-name.js";
import { DEFAULTS, environmentDefaults } from "./defaults.js";
import { isKeepAlive, POLICY_NAME, POLICY_NAME_RULE, patternProblem } from "./policy-syntax.js";
import type {
  Config,
  ExternalHostConfig,
  MemoryPattern,
  PolicyConfig,
  PolicyOptions,
  ServerConfig,
} from "./types.js";

/** A config file that cannot be used; `problems` holds one `path: message` line each. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(file: string, problems: string[]) {
    super(`invalid configuration ${file}:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

export interface LoadOptions {
  /** Config file; else $OLLAMA_PROXY_CONFIG; else config/ollama_proxy.yml. */
  file?: string | undefined;
  /** Section; else $OLLAMA_PROXY_ENV; else development. */
  env?: string | undefined;
  /** Where ${VAR} and the defaults above are looked up (process.env by default). */
  environ?: NodeJS.ProcessEnv;
  /** Relative paths in the file (database, logging.dir) resolve against this (default: cwd). */
  cwd?: string;
}

export interface Loaded {
  readonly config: Config;
  /** Things that work but look wrong (an assignment to an unknown host); printed at start and by `config check`. */
  readonly warnings: readonly string[];
}

export const DEFAULT_CONFIG_FILE = "config/ollama_proxy.yml";

/** Which file and section `loadConfig` will read, before reading it. */
export function resolveConfigLocation(opts: LoadOptions = {}): { file: string; env: string } {
  const environ = opts.environ ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  // An empty variable counts as unset (systemd's `Environment=OLLAMA_PROXY_ENV=` clears it).
  return {
    file: resolve(cwd, opts.file || environ["OLLAMA_PROXY_CONFIG"] || DEFAULT_CONFIG_FILE),
    env: opts.env || environ["OLLAMA_PROXY_ENV"] || "development",
  };
}

const ajv = new Ajv({ allErrors: true, coerceTypes: true, useDefaults: false, strict: false });
// Compiled on first use: it is most of what importing this module costs, and CLI commands
// that never read a config (--version, --help, `users … --database`) should not pay it.
let compiled: ReturnType<typeof ajv.compile> | undefined;
const validator = () => {
  compiled ??= ajv.compile(schema);
  return compiled;
};

/** Reads, expands, validates and freezes one section of the config file. Throws ConfigError. */
export function loadConfig(opts: LoadOptions = {}): Loaded {
  const { file, env } = resolveConfigLocation(opts);
  const environ = opts.environ ?? process.env;
  const cwd = opts.cwd ?? process.cwd();

  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(file, [`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? err})`]);
  }
  // Rails configs share settings with `<<: *default` (Psych merges them); YAML 1.2 would read
  // `<<` as a plain key, and the original's files must load unchanged.
  const doc = parseDocument(text, { prettyErrors: true, merge: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => `${file}:${e.linePos?.[0]?.line ?? "?"}: ${e.message.split("\n")[0]}`),
    );
  }
  const root: unknown = doc.toJS();
  if (!isObject(root)) {
    throw new ConfigError(file, [`${file}: must be a mapping of environment names to sections`]);
  }
  // Own keys only: "toString" or "__proto__" is not a section of the file.
  if (!Object.hasOwn(root, env)) {
    const known = Object.keys(root).join(", ") || "none";
    throw new ConfigError(file, [`${env}: no such section (the file has: ${known})`]);
  }

  // Every problem is collected before any is reported: one run of `config check` names them all.
  const problems: string[] = [];
  const section = expandVariables(root[env] ?? {}, env, environ, problems);
  // A key whose variable is unset is already named; its emptied value is not a second problem.
  const unset = problems.map((p) => p.slice(0, p.indexOf(": ")));

  // The schema describes the whole file; validating {env: section} makes each error path start with the env.
  const wrapped = { [env]: section };
  const validateFile = validator();
  const valid = validateFile(wrapped);
  for (const e of valid ? [] : (validateFile.errors ?? [])) {
    const line = formatAjvError(e);
    if (!unset.some((path) => line.startsWith(`${path}:`) || line.startsWith(`${path}.`)))
      problems.push(line);
  }
  checkValues(wrapped[env], env, problems);
  if (problems.length > 0 || !valid) throw new ConfigError(file, problems);

  const warnings: string[] = [];
  const config = build(wrapped[env] as RawSection, env, file, cwd, warnings);
  return { config: deepFreeze(config), warnings };
}

/**
 * The checks JSON Schema cannot express (a pattern that is a valid regex, an IP or CIDR
 * range, a name used twice). They run on whatever the file holds, valid or not, so that
 * their problems are reported along with the schema's.
 */
function checkValues(section: unknown, env: string, problems: string[]): void {
  if (!isObject(section)) return;
  const mc = section["model_config"];
  const patterns = isObject(mc) ? mc["memory_patterns"] : undefined;
  if (Array.isArray(patterns)) {
    for (const [i, p] of patterns.entries()) {
      const source = isObject(p) ? p["pattern"] : undefined;
      if (typeof source !== "string") continue;
      try {
        new RegExp(source, "i");
      } catch (err) {
        problems.push(`${env}.model_config.memory_patterns.${i}.pattern: ${(err as Error).message}`);
      }
    }
  }

  const trusted = section["trusted_proxies"];
  if (Array.isArray(trusted)) {
    for (const [i, entry] of trusted.entries()) {
      if (typeof entry !== "string") continue;
      const [addr, bits, extra] = entry.split("/");
      const family = isIP(addr ?? "");
      const max = family === 6 ? 128 : 32;
      if (
        family === 0 ||
        extra !== undefined ||
        (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= max))
      ) {
        problems.push(`${env}.trusted_proxies.${i}: must be an IP address or CIDR range`);
      }
    }
  }

  checkPolicies(section["policies"], env, problems);

  // Node refuses to create a server whose header deadline outlasts its whole-request deadline
  // (ERR_OUT_OF_RANGE at start): say so here, by key, instead of a stack trace at `serve`.
  const limits = isObject(section["limits"]) ? section["limits"] : {};
  const headersMs = limits["headers_timeout_ms"] ?? DEFAULTS.limits.headers_timeout_ms;
  const requestMs = limits["request_timeout_ms"] ?? DEFAULTS.limits.request_timeout_ms;
  if (
    typeof headersMs === "number" &&
    typeof requestMs === "number" &&
    requestMs > 0 &&
    headersMs > requestMs
  ) {
    problems.push(
      `${env}.limits.request_timeout_ms: ${requestMs} is shorter than limits.headers_timeout_ms (${headersMs}); a request cannot end before its headers do (0 turns the request deadline off)`,
    );
  }

  // Servers and external hosts are named by key and by `name`: each label must be one target's.
  const seen = new Map<string, string>();
  for (const group of ["servers", "external_hosts"]) {
    const targets = section[group];
    if (!isObject(targets)) continue;
    for (const [key, t] of Object.entries(targets)) {
      const name = isObject(t) && typeof t["name"] === "string" ? t["name"] : key;
      // Qualified, so that a server and an external host under the same key also collide.
      const id = `${group}.${key}`;
      for (const label of new Set([key, name])) {
        const other = seen.get(label);
        if (other !== undefined && other !== id) {
          problems.push(`${env}: the name "${label}" is used by both ${other} and ${id}`);
        }
        seen.set(label, id);
      }
    }
  }
}

/** Policy names, model patterns and keep_alive values: what the schema cannot say. */
function checkPolicies(policies: unknown, env: string, problems: string[]): void {
  if (!isObject(policies)) return;
  for (const [name, p] of Object.entries(policies)) {
    const path = `${env}.policies.${name}`;
    if (!POLICY_NAME.test(name)) problems.push(`${path}: invalid policy name: ${POLICY_NAME_RULE}`);
    if (!isObject(p)) continue;
    const models = p["models"];
    if (Array.isArray(models)) {
      for (const [i, pattern] of models.entries()) {
        const problem = typeof pattern === "string" ? patternProblem(pattern) : null;
        if (problem !== null) problems.push(`${path}.models.${i}: ${problem}`);
      }
    }
    const options = p["options"];
    const keepAlive = isObject(options) ? options["keep_alive"] : undefined;
    if (keepAlive !== undefined && keepAlive !== null && !isKeepAlive(keepAlive)) {
      problems.push(
        `${path}.options.keep_alive: ${JSON.stringify(keepAlive)} is not a duration Ollama accepts (like "5m", "1h30m", 0, or -1 for forever)`,
      );
    }
  }
}

/** Replaces `${VAR}` in every string value; an unset variable is a problem named by its path. */
function expandVariables(
  value: unknown,
  path: string,
  environ: NodeJS.ProcessEnv,
  problems: string[],
): unknown {
  if (typeof value === "string") {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = environ[name];
      if (v === undefined) {
        problems.push(`${path}: environment variable ${name} is not set`);
        return "";
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandVariables(v, `${path}.${i}`, environ, problems));
  if (isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k] = expandVariables(v, `${path}.${k}`, environ, problems);
    return out;
  }
  return value;
}

function formatAjvError(e: ErrorObject): string {
  const path = e.instancePath.slice(1).replaceAll("/", ".").replaceAll("~1", "/").replaceAll("~0", "~");
  switch (e.keyword) {
    case "additionalProperties":
      return `${path}.${(e.params as { additionalProperty: string }).additionalProperty}: unknown key`;
    case "required":
      return `${path}.${(e.params as { missingProperty: string }).missingProperty}: is required`;
    case "enum":
      return `${path}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return `${path}: ${e.message ?? "is invalid"}`;
  }
}

// The shape the schema guarantees for one section (snake_case, as written).
interface RawServer {
  host: string;
  port: number;
  protocol?: "http" | "https";
  name?: string;
  priority?: number;
  max_memory_gb?: number | null;
  enabled?: boolean;
  parallel?: number | null;
  max_loaded_models?: number | null;
}
interface RawExternalHost {
  host: string;
  port?: number;
  protocol?: "http" | "https";
  api_key_env?: string;
  name?: string;
  enabled?: boolean;
  type?: "openai" | "anthropic";
  base_path?: string;
}
interface RawSection {
  proxy_port?: number;
  bind?: string;
  servers?: Record<string, RawServer> | null;
  external_hosts?: Record<string, RawExternalHost> | null;
  model_config?: {
    explicit_assignments?: Record<string, string> | null;
    memory_overrides?: Record<string, number> | null;
    memory_patterns?: { pattern: string; memory_gb: number }[] | null;
    default_memory_gb?: number;
  };
  cache_ttl_seconds?: number;
  health?: Partial<Record<keyof typeof DEFAULTS.health, number>>;
  logging?: {
    level?: Config["logging"]["level"];
    dir?: string | null;
    retention_days?: number;
    log_bodies?: boolean;
    request_log?: boolean;
  };
  database?: string;
  limits?: Partial<Record<keyof typeof DEFAULTS.limits, number>>;
  metrics?: { enabled?: boolean; token?: string | null };
  trusted_proxies?: string[];
  allow_cloud?: boolean;
  scheduler?: Partial<Record<keyof typeof DEFAULTS.scheduler, number>>;
  policies?: Record<string, RawPolicy | null> | null;
  tls?: { cert: string; key: string; ca?: string } | null;
}
interface RawPolicy {
  models?: string[];
  max_concurrent?: number | null;
  requests_per_minute?: number | null;
  tokens_per_day?: number | null;
  weight?: number;
  options?: {
    num_ctx_max?: number | null;
    num_predict_max?: number | null;
    keep_alive?: string | number | null;
  } | null;
}

/** Turns a section that passed the schema and `checkValues` into the typed config. */
function build(raw: RawSection, env: string, file: string, cwd: string, warnings: string[]): Config {
  const envDefaults = environmentDefaults(env);

  const servers: ServerConfig[] = Object.entries(raw.servers ?? {}).map(([key, s]) => {
    const protocol = s.protocol ?? DEFAULTS.server.protocol;
    return {
      key,
      name: s.name ?? key,
      protocol,
      host: s.host,
      port: s.port,
      priority: s.priority ?? DEFAULTS.server.priority,
      maxMemoryGb: s.max_memory_gb ?? DEFAULTS.server.max_memory_gb,
      enabled: s.enabled ?? DEFAULTS.server.enabled,
      origin: `${protocol}://${formatHost(s.host)}:${s.port}`,
      parallel: s.parallel ?? DEFAULTS.server.parallel,
      maxLoadedModels: s.max_loaded_models ?? DEFAULTS.server.max_loaded_models,
    };
  });
  servers.sort((a, b) => a.priority - b.priority || a.key.localeCompare(b.key));

  const externalHosts: ExternalHostConfig[] = Object.entries(raw.external_hosts ?? {}).map(([key, h]) => {
    const protocol = h.protocol ?? DEFAULTS.external_host.protocol;
    const port = h.port ?? (protocol === "https" ? 443 : 80);
    const name = h.name ?? key;
    return {
      key,
      name,
      // Anything OpenAI-compatible (vLLM, OpenRouter, Groq, LM Studio) is "openai".
      type: h.type ?? (/anthropic|claude/i.test(`${key} ${name} ${h.host}`) ? "anthropic" : "openai"),
      protocol,
      host: h.host,
      port,
      basePath: (h.base_path ?? DEFAULTS.external_host.base_path).replace(/\/+$/, ""),
      apiKeyEnv: h.api_key_env ?? null,
      enabled: h.enabled ?? DEFAULTS.external_host.enabled,
      origin: `${protocol}://${formatHost(h.host)}:${port}`,
    };
  });

  // Labels are unique (checkValues): a model may be assigned to a key or to a name.
  const seen = new Map<string, string>();
  for (const t of [...servers, ...externalHosts]) for (const label of [t.key, t.name]) seen.set(label, t.key);

  const mc = raw.model_config ?? {};
  const explicitAssignments = new Map<string, { target: string; model: string }>();
  for (const [model, target] of Object.entries(mc.explicit_assignments ?? {})) {
    const key = seen.get(target);
    if (key === undefined) {
      // The original's own example assigns to an "anthropic" host it never defines: keep loading.
      warnings.push(
        `${env}.model_config.explicit_assignments.${model}: "${target}" is not a configured server or external host; requests for ${model} will get 503`,
      );
    }
    explicitAssignments.set(normalizeModel(model), { target: key ?? target, model });
  }
  const memoryOverrides = new Map<string, number>();
  for (const [model, gb] of Object.entries(mc.memory_overrides ?? {}))
    memoryOverrides.set(normalizeModel(model), gb);
  const memoryPatterns: MemoryPattern[] = (mc.memory_patterns ?? []).map((p) => ({
    source: p.pattern,
    regex: new RegExp(p.pattern, "i"),
    memoryGb: p.memory_gb,
  }));

  const limits = { ...DEFAULTS.limits, ...raw.limits };
  const logging = { ...DEFAULTS.logging, dir: envDefaults.logDir, ...raw.logging };
  const metrics = { ...DEFAULTS.metrics, ...raw.metrics };
  const scheduler = { ...DEFAULTS.scheduler, ...raw.scheduler };
  return {
    env,
    file,
    proxyPort: raw.proxy_port ?? DEFAULTS.proxy_port,
    bind: raw.bind ?? envDefaults.bind,
    servers,
    externalHosts,
    models: {
      explicitAssignments,
      memoryOverrides,
      memoryPatterns,
      defaultMemoryGb: mc.default_memory_gb ?? DEFAULTS.model_config.default_memory_gb,
    },
    cacheTtlSeconds: raw.cache_ttl_seconds ?? DEFAULTS.cache_ttl_seconds,
    health: {
      intervalSeconds: raw.health?.interval_seconds ?? DEFAULTS.health.interval_seconds,
      timeoutMs: raw.health?.timeout_ms ?? DEFAULTS.health.timeout_ms,
      slowThresholdMs: raw.health?.slow_threshold_ms ?? DEFAULTS.health.slow_threshold_ms,
      failuresBeforeDown: raw.health?.failures_before_down ?? DEFAULTS.health.failures_before_down,
      successesBeforeUp: raw.health?.successes_before_up ?? DEFAULTS.health.successes_before_up,
    },
    logging: {
      level: logging.level,
      dir: logging.dir === null ? null : resolve(cwd, logging.dir),
      retentionDays: logging.retention_days,
      logBodies: logging.log_bodies,
      requestLog: logging.request_log,
    },
    database: resolve(cwd, raw.database ?? envDefaults.database),
    limits: {
      maxBodyBytes: Math.floor(limits.max_body_mb * 1024 * 1024),
      headersTimeoutMs: limits.headers_timeout_ms,
      requestTimeoutMs: limits.request_timeout_ms,
      upstreamConnectTimeoutMs: limits.upstream_connect_timeout_ms,
      upstreamFirstByteTimeoutMs: limits.upstream_first_byte_timeout_ms,
      upstreamIdleTimeoutMs: limits.upstream_idle_timeout_ms,
      shutdownGraceSeconds: limits.shutdown_grace_seconds,
      maxHeaderBytes: limits.max_header_kb * 1024,
      authFailuresPerMinute: limits.auth_failures_per_minute,
      authBlockSeconds: limits.auth_block_seconds,
      sendTimeoutMs: limits.send_timeout_ms,
      bodyTimeoutMs: limits.body_timeout_ms,
    },
    metrics: { enabled: metrics.enabled, token: metrics.token ?? null },
    trustedProxies: raw.trusted_proxies ?? DEFAULTS.trusted_proxies,
    allowCloud: raw.allow_cloud ?? DEFAULTS.allow_cloud,
    policies: raw.policies == null ? null : buildPolicies(raw.policies, env, warnings),
    scheduler: {
      maxQueue: scheduler.max_queue,
      maxWaitSeconds: scheduler.max_wait_seconds,
      modelAffinityMs: scheduler.model_affinity_ms,
      fairShareWindowSeconds: scheduler.fair_share_window_seconds,
    },
    // Relative paths resolve like `database`: against the working folder.
    tls:
      raw.tls == null
        ? DEFAULTS.tls
        : {
            cert: resolve(cwd, raw.tls.cert),
            key: resolve(cwd, raw.tls.key),
            ca: raw.tls.ca === undefined ? null : resolve(cwd, raw.tls.ca),
          },
  };
}

/** `policies:` as typed policies; a list of models that can match nothing is a warning. */
function buildPolicies(
  raw: Record<string, RawPolicy | null>,
  env: string,
  warnings: string[],
): Map<string, PolicyConfig> {
  const out = new Map<string, PolicyConfig>();
  for (const [name, p] of Object.entries(raw)) {
    const models = p?.models ?? DEFAULTS.policy.models;
    // Nothing is allowed until a pattern includes it: a list of exclusions alone allows no model.
    if (!models.some((m) => !m.startsWith("!"))) {
      warnings.push(
        `${env}.policies.${name}.models: no pattern includes a model, so users of "${name}" may use none (start the list with "*" to allow all but the exclusions)`,
      );
    }
    const o = p?.options;
    const options: PolicyOptions = {
      numCtxMax: o?.num_ctx_max ?? null,
      numPredictMax: o?.num_predict_max ?? null,
      keepAlive: o?.keep_alive ?? null,
    };
    out.set(name, {
      name,
      models: [...models],
      maxConcurrent: p?.max_concurrent ?? null,
      requestsPerMinute: p?.requests_per_minute ?? null,
      tokensPerDay: p?.tokens_per_day ?? null,
      weight: p?.weight ?? DEFAULTS.policy.weight,
      options:
        options.numCtxMax === null && options.numPredictMax === null && options.keepAlive === null
          ? null
          : options,
    });
  }
  return out;
}

/** IPv6 literals need brackets in a URL. */
function formatHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value) && !(value instanceof RegExp)) {
    if (value instanceof Map) {
      for (const v of value.values()) deepFreeze(v);
    } else {
      for (const v of Object.values(value)) deepFreeze(v);
    }
    Object.freeze(value);
  }
  return value;
}
