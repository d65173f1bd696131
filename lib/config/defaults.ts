/**
 * Every default of the configuration, in one place. Keys are the file's own (snake_case);
 * `bind`, `logging.dir` and `database` depend on the environment and are filled in by
 * `environmentDefaults`.
 */
export const DEFAULTS = {
  proxy_port: 11434,
  cache_ttl_seconds: 300,
  health: {
    interval_seconds: 10,
    timeout_ms: 2000,
    slow_threshold_ms: 1000,
    failures_before_down: 3,
    successes_before_up: 2,
  },
  logging: {
    level: "info",
    retention_days: 30,
    log_bodies: false,
    request_log: true,
  },
  model_config: {
    default_memory_gb: 8,
  },
  server: {
    protocol: "http",
    priority: 1,
    max_memory_gb: null,
    enabled: true,
    parallel: null,
    max_loaded_models: null,
  },
  external_host: {
    protocol: "https",
    base_path: "/v1",
    enabled: true,
  },
  limits: {
    max_body_mb: 64,
    headers_timeout_ms: 10_000,
    request_timeout_ms: 300_000,
    upstream_connect_timeout_ms: 5_000,
    // Loading a large model before its first token can take minutes.
    upstream_first_byte_timeout_ms: 300_000,
    upstream_idle_timeout_ms: 120_000,
    shutdown_grace_seconds: 30,
    max_header_kb: 32,
    auth_failures_per_minute: 20,
    auth_block_seconds: 300,
    // nginx's send_timeout: a client that reads nothing for this long is let go.
    send_timeout_ms: 60_000,
    // A request body that makes no progress for this long gets 408.
    body_timeout_ms: 30_000,
  },
  metrics: {
    enabled: true,
    token: null,
  },
  trusted_proxies: [] as string[],
  allow_cloud: false,
  // A policy without `models` allows every model; one without `weight` gets an equal share.
  policy: {
    models: ["*"],
    weight: 1,
  },
  scheduler: {
    max_queue: 1000,
    max_wait_seconds: 300,
    model_affinity_ms: 2000,
    // "Recent use" for fair share: older GPU time fades with this time constant.
    fair_share_window_seconds: 300,
  },
  // Plain HTTP unless `tls` names a certificate and key.
  tls: null,
} as const;

/** The defaults that differ by environment: production listens on all interfaces and logs to /var/log. */
export function environmentDefaults(env: string): { bind: string; logDir: string | null; database: string } {
  return {
    bind: env === "production" ? "0.0.0.0" : "127.0.0.1",
    logDir: env === "production" ? "/var/log/ollama-proxy" : "log",
    database: `db/${env}.sqlite3`,
  };
}
