import { isIP } from "node:net";
import { resolve } from "node:path";
import { normalizeModel } from "../model-name.js";
import { DEFAULTS, environmentDefaults } from "./defaults.js";
import type {
  Config,
  ExternalHostConfig,
  MemoryPattern,
  PolicyConfig,
  PolicyOptions,
  ServerConfig,
} from "./types.js";

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
export interface RawSection {
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
export function build(raw: RawSection, env: string, file: string, cwd: string, warnings: string[]): Config {
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
