/** One Ollama backend, as configured (`servers.NAME`). */
export interface ServerConfig {
  /** The key under `servers:`; what explicit assignments and the X-Ollama-Proxy-Server header name. */
  readonly key: string;
  readonly name: string;
  readonly protocol: "http" | "https";
  readonly host: string;
  readonly port: number;
  /** Lower number = preferred (1 beats 2). */
  readonly priority: number;
  /** null = unlimited. */
  readonly maxMemoryGb: number | null;
  readonly enabled: boolean;
  /** `protocol://host:port`, for agents and log lines. */
  readonly origin: string;
  /** Requests per model the proxy sends at once (the server's OLLAMA_NUM_PARALLEL); null = no limit, nothing waits. */
  readonly parallel: number | null;
  /** Models the server holds at once (its OLLAMA_MAX_LOADED_MODELS); null = not known, no eviction is foreseen. */
  readonly maxLoadedModels: number | null;
}

export type ExternalKind = "openai" | "anthropic";

/** A third-party API (`external_hosts.NAME`). */
export interface ExternalHostConfig {
  readonly key: string;
  readonly name: string;
  readonly type: ExternalKind;
  readonly protocol: "http" | "https";
  readonly host: string;
  readonly port: number;
  readonly basePath: string;
  readonly apiKeyEnv: string | null;
  readonly enabled: boolean;
  readonly origin: string;
}

export interface MemoryPattern {
  readonly source: string;
  readonly regex: RegExp;
  readonly memoryGb: number;
}

export interface ModelConfig {
  /** model name (normalised, `name:tag`) → server or external host key, and the name as written. */
  readonly explicitAssignments: ReadonlyMap<string, { readonly target: string; readonly model: string }>;
  /** model name (normalised) → GB. */
  readonly memoryOverrides: ReadonlyMap<string, number>;
  readonly memoryPatterns: readonly MemoryPattern[];
  readonly defaultMemoryGb: number;
}

export interface HealthConfig {
  readonly intervalSeconds: number;
  readonly timeoutMs: number;
  readonly slowThresholdMs: number;
  readonly failuresBeforeDown: number;
  readonly successesBeforeUp: number;
}

export interface LoggingConfig {
  readonly level: "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
  /** Folder for application.log; null = JSON lines on stdout. */
  readonly dir: string | null;
  readonly retentionDays: number;
  readonly logBodies: boolean;
  /** Write one request-log row per request to SQLite. */
  readonly requestLog: boolean;
}

export interface LimitsConfig {
  readonly maxBodyBytes: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly upstreamConnectTimeoutMs: number;
  readonly upstreamFirstByteTimeoutMs: number;
  readonly upstreamIdleTimeoutMs: number;
  readonly shutdownGraceSeconds: number;
  readonly maxHeaderBytes: number;
  readonly authFailuresPerMinute: number;
  readonly authBlockSeconds: number;
  /** No progress writing to a client for this long closes its connection. */
  readonly sendTimeoutMs: number;
  /** No progress reading a request body for this long answers 408. */
  readonly bodyTimeoutMs: number;
}

export interface MetricsConfig {
  readonly enabled: boolean;
  /** When set, GET /metrics needs `Authorization: Bearer <token>`. */
  readonly token: string | null;
}

/** A policy's body rules (`policies.NAME.options`): only a policy with one rewrites request bodies. */
export interface PolicyOptions {
  /** Clamp `options.num_ctx` to this. */
  readonly numCtxMax: number | null;
  /** Clamp `options.num_predict` (and `max_tokens`, `max_output_tokens` on /v1) to this. */
  readonly numPredictMax: number | null;
  /** Force `keep_alive`: a Go duration (`5m`) or seconds (negative = forever), as Ollama reads it. */
  readonly keepAlive: string | number | null;
}

/** One named policy (`policies.NAME`): what a user may use, how much and how fast. */
export interface PolicyConfig {
  readonly name: string;
  /** Globs over normalised model names, `!` excludes, the last match wins; `["*"]` when absent. */
  readonly models: readonly string[];
  /** Requests in flight (and waiting in the scheduler); null = no limit. */
  readonly maxConcurrent: number | null;
  readonly requestsPerMinute: number | null;
  /** Prompt + completion tokens per UTC day. */
  readonly tokensPerDay: number | null;
  /** Share of a saturated fleet (the scheduler's fair share), > 0. */
  readonly weight: number;
  /** null when the policy sets no body rule: its requests keep the zero-copy path. */
  readonly options: PolicyOptions | null;
}

/** How requests wait for a slot when `servers.NAME.parallel` is set (lib/schedule). */
export interface SchedulerConfig {
  /** Requests waiting at most; one more gets 503 at once. */
  readonly maxQueue: number;
  /** Longest wait before a 503. */
  readonly maxWaitSeconds: number;
  /** How long a loaded model keeps its server against a request that would load another one. */
  readonly modelAffinityMs: number;
  /** Time constant of the decayed GPU time that fair share compares users by. */
  readonly fairShareWindowSeconds: number;
}

/** HTTPS on `proxy_port` (`tls`): absolute paths of the PEM files, read at start and on every SIGHUP. */
export interface TlsConfig {
  /** The certificate, optionally followed by its intermediates. */
  readonly cert: string;
  /** Its private key, unencrypted. */
  readonly key: string;
  /** A CA for client certificates: checked like the others, not used yet. */
  readonly ca: string | null;
}

/** A loaded, validated, frozen configuration section. */
export interface Config {
  /** The environment section this came from (`development`, `production`, ...). */
  readonly env: string;
  /** Absolute path of the file it was read from. */
  readonly file: string;
  readonly proxyPort: number;
  readonly bind: string;
  /** Sorted by priority, then key; disabled ones included (they are listed nowhere, used never). */
  readonly servers: readonly ServerConfig[];
  readonly externalHosts: readonly ExternalHostConfig[];
  readonly models: ModelConfig;
  readonly cacheTtlSeconds: number;
  readonly health: HealthConfig;
  readonly logging: LoggingConfig;
  /** Absolute path of the SQLite file. */
  readonly database: string;
  readonly limits: LimitsConfig;
  readonly metrics: MetricsConfig;
  readonly trustedProxies: readonly string[];
  /** Allow Ollama's account and cloud endpoints and `*:cloud` models (off by default). */
  readonly allowCloud: boolean;
  /** Named policies; `default` applies to users without one. null (no `policies` key) = no limits. */
  readonly policies: ReadonlyMap<string, PolicyConfig> | null;
  readonly scheduler: SchedulerConfig;
  /** null = plain HTTP. */
  readonly tls: TlsConfig | null;
}
