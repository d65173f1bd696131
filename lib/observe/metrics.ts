import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Config } from "../config/types.js";
import type { RequestContext } from "../context.js";
import type { RequestLogStats } from "../log/request-log.js";
import { normalizeModel } from "../model-name.js";
import type { Fleet } from "../routing/fleet.js";
import { VERSION } from "../version.js";

/** The Prometheus metrics of one proxy instance (its own registry, so several proxies in one process never collide). */
export interface Metrics {
  /** Counts one finished request; `model` is already a bounded label (see `modelLabel`). */
  request(ctx: RequestContext, model: string): void;
  /** The exposition text for GET /metrics. */
  text(): Promise<string>;
}

/** Where the scrape-time values come from: read when Prometheus asks, never on the request path. */
export interface MetricSources {
  fleet(): Fleet | null;
  requestLog(): RequestLogStats | null;
}

/** LLM requests run from milliseconds (embeddings) to many minutes (long generations). */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120];

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
    help: "Requests answered, by HTTP status, serving backend and model",
    labelNames: ["status", "server", "model"],
    registers,
  });
  const duration = new Histogram({
    name: "ollama_proxy_request_duration_seconds",
    help: "Wall-clock time from request arrival to the end of the response",
    labelNames: ["server", "model"],
    buckets: DURATION_BUCKETS,
    registers,
  });
  const ttft = new Histogram({
    name: "ollama_proxy_time_to_first_token_seconds",
    help: "Wall-clock time from request arrival to the first response body chunk sent to the client",
    labelNames: ["server", "model"],
    buckets: TTFT_BUCKETS,
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
      requests.inc({ status: String(ctx.status), server, model });
      const end = ctx.tEnd ?? performance.now();
      duration.observe({ server, model }, (end - ctx.t0) / 1000);
      if (ctx.tFirstChunk !== null && ctx.status < 400) {
        ttft.observe({ server, model }, (ctx.tFirstChunk - ctx.t0) / 1000);
      }
      const u = ctx.usage;
      if (u?.promptTokens) promptTokens.inc({ server, model }, u.promptTokens);
      if (u?.completionTokens) completionTokens.inc({ server, model }, u.completionTokens);
    },
    text: () => register.metrics(),
  };
}
