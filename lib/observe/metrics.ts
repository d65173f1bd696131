import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Config } from "../config/types.js";
import type { RequestContext } from "../context.js";
import type { RequestLogStats } from "../log/request-log.js";
import { normalizeModel } from "../model-name.js";
import type { PolicyRefusals } from "../policy/policies.js";
import type { Fleet } from "../routing/fleet.js";
import type { SchedulerSnapshot } from "../schedule/types.js";
import { VERSION } from "../version.js";
import type { ConfigStatus } from "./health.js";

/** The Prometheus metrics of one proxy instance (its own registry, so several proxies in one process never collide). */
export interface Metrics {
  /** Counts one finished request; `model` is already a bounded label (see `modelLabel`). */
  request(ctx: RequestContext, model: string): void;
  /** Counts a request that moved from one server to the next before its first byte. */
  failover(from: string, to: string): void;
  /** The exposition text for GET /metrics. */
  text(): Promise<string>;
}

/** What /metrics reads from the running server when Prometheus scrapes (lib/server.ts's RunningServer). */
export interface ServerSources {
  configStatus(): ConfigStatus;
  authCounts(): { readonly failures: number; readonly lockouts: number };
  policyRefusals(): readonly PolicyRefusals[];
  /** The scheduler's counters, or null when no server has `parallel`. */
  schedule(): SchedulerSnapshot | null;
  /** Requests Node's parser refused, by the status answered. */
  parserRefusals(): Readonly<Record<string, number>>;
}

/** Where the scrape-time values come from: read when Prometheus asks, never on the request path. */
export interface MetricSources {
  fleet(): Fleet | null;
  requestLog(): RequestLogStats | null;
  /** null until the server has started (and in tests that run a server without one). */
  server(): ServerSources | null;
}

/** LLM requests run from milliseconds (embeddings) to many minutes (long generations). */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120];
/** A wait for a slot: none (the fast path) to the 300 s of scheduler.max_wait_seconds. */
const QUEUE_BUCKETS = [0, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];

/**
 * The model label of a request: the normalised name when a server lists the model or the
 * config assigns it, `other` for anything else. Clients can send any string; a label per junk
 * name would grow the series without bound.
 */
export function modelLabel(model: string | null, fleet: Fleet | null, config: Config): string {
  if (model === null) return "none";
  const key = normalizeModel(model);
  const assigned = config.models.explicitAssignments.get(key);
  if (assigned !== undefined) return assigned.model;
  if (fleet?.servers().some((s) => s.models.has(key))) return key;
  return "other";
}

/** Creates the registry and its metrics (prom-client does the exposition format). */
export function createMetrics(sources: MetricSources): Metrics {
  const register = new Registry();
  collectDefaultMetrics({ register });
  const registers = [register];

  new Gauge({
    name: "ollama_proxy_info",
    help: "Always 1; the version label says which ollama-proxy runs",
    labelNames: ["version"],
    registers,
  }).set({ version: VERSION }, 1);

  const requests = new Counter({
    name: "ollama_proxy_requests_total",
    help: "Requests answered, by HTTP status code, endpoint, serving backend and model",
    labelNames: ["code", "endpoint", "server", "model"],
    registers,
  });
  const duration = new Histogram({
    name: "ollama_proxy_request_duration_seconds",
    help: "Wall-clock time from request arrival to the end of the response",
    labelNames: ["endpoint", "server", "model"],
    buckets: DURATION_BUCKETS,
    registers,
  });
  const ttft = new Histogram({
    name: "ollama_proxy_time_to_first_token_seconds",
    help: "Wall-clock time from request arrival to the first response body chunk sent to the client",
    labelNames: ["endpoint", "server", "model"],
    buckets: TTFT_BUCKETS,
    registers,
  });
  const failovers = new Counter({
    name: "ollama_proxy_failovers_total",
    help: "Requests moved to another server because the first could not take them (refused, reset, 503) before any byte reached the client",
    labelNames: ["from", "to"],
    registers,
  });
  const queueWait = new Histogram({
    name: "ollama_proxy_queue_wait_seconds",
    help: "Time a scheduled request waited in the proxy for a slot (0: it went straight through)",
    labelNames: ["server", "model"],
    buckets: QUEUE_BUCKETS,
    registers,
  });
  const promptTokens = new Counter({
    name: "ollama_proxy_prompt_tokens_total",
    help: "Prompt tokens reported by the backends",
    labelNames: ["server", "model"],
    registers,
  });
  const completionTokens = new Counter({
    name: "ollama_proxy_completion_tokens_total",
    help: "Completion tokens reported by the backends",
    labelNames: ["server", "model"],
    registers,
  });

  new Gauge({
    name: "ollama_proxy_in_flight_requests",
    help: "Requests being forwarded to each server right now",
    labelNames: ["server"],
    registers,
    collect() {
      this.reset();
      for (const s of sources.fleet()?.servers() ?? []) this.set({ server: s.key }, s.inFlight);
    },
  });
  new Gauge({
    name: "ollama_proxy_server_up",
    help: "1 when the server answered its last health polls, else 0",
    labelNames: ["server"],
    registers,
    collect() {
      this.reset();
      for (const s of sources.fleet()?.servers() ?? [])
        this.set({ server: s.key }, s.health === "up" ? 1 : 0);
    },
  });
  new Gauge({
    name: "ollama_proxy_server_poll_latency_seconds",
    help: "Moving average of the health poller's /api/version round trip to each live server (what slow_threshold_ms compares)",
    labelNames: ["server"],
    registers,
    collect() {
      this.reset();
      for (const s of sources.fleet()?.servers() ?? []) {
        if (s.health !== "down" && s.latencyMs !== null) this.set({ server: s.key }, s.latencyMs / 1000);
      }
    },
  });
  new Gauge({
    name: "ollama_proxy_server_models_loaded",
    help: "Models each server has loaded in memory (/api/ps at the last poll; 0 while the server is down)",
    labelNames: ["server"],
    registers,
    collect() {
      this.reset();
      for (const s of sources.fleet()?.servers() ?? [])
        this.set({ server: s.key }, s.health === "down" ? 0 : s.loaded.size);
    },
  });
  new Gauge({
    name: "ollama_proxy_server_models",
    help: "Models each server has (/api/tags at the last poll)",
    labelNames: ["server"],
    registers,
    collect() {
      this.reset();
      for (const s of sources.fleet()?.servers() ?? []) this.set({ server: s.key }, s.models.size);
    },
  });
  new Counter({
    name: "ollama_proxy_auth_failures_total",
    help: "Requests refused for their token: missing, malformed, unknown, deactivated or expired",
    registers,
    collect() {
      this.reset();
      this.inc(sources.server()?.authCounts().failures ?? 0);
    },
  });
  new Counter({
    name: "ollama_proxy_auth_lockouts_total",
    help: "Times a client address went over limits.auth_failures_per_minute and was blocked for limits.auth_block_seconds",
    registers,
    collect() {
      this.reset();
      this.inc(sources.server()?.authCounts().lockouts ?? 0);
    },
  });
  new Counter({
    name: "ollama_proxy_policy_refusals_total",
    help: "Requests a policy refused, by policy and reason (model, undefined_policy, max_concurrent, requests_per_minute, tokens_per_day)",
    labelNames: ["policy", "reason"],
    registers,
    collect() {
      this.reset();
      for (const r of sources.server()?.policyRefusals() ?? [])
        this.inc({ policy: r.policy, reason: r.reason }, r.count);
    },
  });
  new Counter({
    name: "ollama_proxy_parser_refusals_total",
    help: "Connections whose request Node's HTTP parser refused (400 bad syntax, 408 slow headers, 431 headers too large)",
    labelNames: ["code"],
    registers,
    collect() {
      this.reset();
      for (const [code, n] of Object.entries(sources.server()?.parserRefusals() ?? {})) this.inc({ code }, n);
    },
  });
  new Gauge({
    name: "ollama_proxy_queue_waiting",
    help: "Requests waiting in the proxy for a slot on a server (servers.NAME.parallel)",
    registers,
    collect() {
      this.set(sources.server()?.schedule()?.waiting ?? 0);
    },
  });
  new Gauge({
    name: "ollama_proxy_queue_oldest_wait_seconds",
    help: "How long the oldest waiting request has waited for a slot",
    registers,
    collect() {
      this.set((sources.server()?.schedule()?.oldestWaitMs ?? 0) / 1000);
    },
  });
  new Counter({
    name: "ollama_proxy_model_loads_total",
    help: "Requests the scheduler sent to a server that did not hold their model (each makes it load one)",
    labelNames: ["server"],
    registers,
    collect() {
      this.reset();
      for (const s of sources.server()?.schedule()?.servers ?? []) this.inc({ server: s.key }, s.modelLoads);
    },
  });
  new Counter({
    name: "ollama_proxy_queue_refusals_total",
    help: "Requests the scheduler answered 503: queue full, waited too long, or no server left for them",
    labelNames: ["reason"],
    registers,
    collect() {
      this.reset();
      const t = sources.server()?.schedule()?.totals;
      if (t === undefined) return;
      this.inc({ reason: "queue_full" }, t.queueFull);
      this.inc({ reason: "wait_timeout" }, t.waitTimeouts);
      this.inc({ reason: "server_gone" }, t.serverGone);
    },
  });
  new Gauge({
    name: "ollama_proxy_config_last_reload_successful",
    help: "1 when the last config reload (SIGHUP) succeeded or none was tried, 0 when the file (or the TLS certificate it names) could not be used",
    registers,
    collect() {
      const s = sources.server()?.configStatus();
      // A reload that applied the file but not all of it (a certificate that does not load) failed too.
      const r = s?.lastReload;
      if (s !== undefined) this.set(r?.kind === "failed" || (r?.failed.length ?? 0) > 0 ? 0 : 1);
    },
  });
  new Gauge({
    name: "ollama_proxy_config_last_reload_success_timestamp_seconds",
    help: "When the config in use was loaded (start, or the last successful reload), in Unix seconds",
    registers,
    collect() {
      const s = sources.server()?.configStatus();
      if (s !== undefined) this.set(s.loadedAt / 1000);
    },
  });
  new Gauge({
    name: "ollama_proxy_external_host_usable",
    help: "1 when the external host is enabled and has its API key, else 0",
    labelNames: ["host"],
    registers,
    collect() {
      this.reset();
      for (const e of sources.fleet()?.externals() ?? []) this.set({ host: e.config.key }, e.usable ? 1 : 0);
    },
  });
  new Counter({
    name: "ollama_proxy_request_log_dropped_total",
    help: "Request-log records dropped because the writer fell behind or failed",
    registers,
    collect() {
      // The request log keeps the count; the counter mirrors it at scrape time.
      this.reset();
      this.inc(sources.requestLog()?.dropped ?? 0);
    },
  });
  new Counter({
    name: "ollama_proxy_request_log_written_total",
    help: "Request-log rows written to SQLite",
    registers,
    collect() {
      this.reset();
      this.inc(sources.requestLog()?.written ?? 0);
    },
  });
  new Gauge({
    name: "ollama_proxy_request_log_queued",
    help: "Request-log records waiting for the writer",
    registers,
    collect() {
      this.set(sources.requestLog()?.queued ?? 0);
    },
  });

  return {
    request(ctx, model) {
      const server = ctx.server ?? "none";
      if (ctx.queueMs !== null) queueWait.observe({ server, model }, ctx.queueMs / 1000);
      const endpoint = ctx.endpoint;
      requests.inc({ code: String(ctx.status), endpoint, server, model });
      const end = ctx.tEnd ?? performance.now();
      duration.observe({ endpoint, server, model }, (end - ctx.t0) / 1000);
      if (ctx.tFirstChunk !== null && ctx.status < 400) {
        ttft.observe({ endpoint, server, model }, (ctx.tFirstChunk - ctx.t0) / 1000);
      }
      const u = ctx.usage;
      if (u?.promptTokens) promptTokens.inc({ server, model }, u.promptTokens);
      if (u?.completionTokens) completionTokens.inc({ server, model }, u.completionTokens);
    },
    failover: (from, to) => failovers.inc({ from, to }),
    text: () => register.metrics(),
  };
}
