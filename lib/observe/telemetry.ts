import type { ComponentHealth } from "../component.js";
import type { Config } from "../config/types.js";
import { BODY_LOG_BYTES, bodyForLog, type RequestContext, type ResponseObserver } from "../context.js";
import type { AppLog, Logger } from "../log/app-log.js";
import { openRequestLog, type RequestLog, type RequestLogOptions } from "../log/request-log.js";
import { toRecord } from "../log/request-record.js";
import { normalizeModel } from "../model-name.js";
import type { Fleet } from "../routing/fleet.js";
import { createMetrics, type Metrics, modelLabel, type ServerSources } from "./metrics.js";
import { UsageTap } from "./usage-tap.js";

/**
 * What the rest of the product plugs into the request path: the usage tap, the request log,
 * metrics. Each call is cheap and never blocks.
 */
export interface Telemetry {
  /** A per-request observer of the response bytes (reads token counts), or null. */
  observe(ctx: RequestContext): ResponseObserver | null;
  /** The response is over (finished, failed or abandoned): record it. */
  done(ctx: RequestContext): void;
  /** GET /metrics body, or null when metrics are off. */
  metrics(): Promise<string> | string | null;
  /** Extra health components (request log, app log). */
  components(): ComponentHealth[];
  /** A request failed over from one server to the next before its first byte reached the client. */
  failover?(from: string, to: string): void;
}

/** Telemetry that records nothing (tests, and a library user who plugs in none). */
export const NO_TELEMETRY: Telemetry = {
  observe: () => null,
  done: () => {},
  metrics: () => null,
  components: () => [],
};

/** The telemetry of a running proxy, with what serve needs to wire it up and shut it down. */
export interface TelemetryHandle extends Telemetry {
  /** The fleet and the server whose state /metrics reports (known only once the server started). */
  attach(fleet: Fleet, server?: ServerSources): void;
  /** Applies a reloaded config (retention, model labels). */
  reload(config: Config): void;
  /** The request log, when `logging.request_log` is on. */
  readonly requestLog: RequestLog | null;
  /** Writes every queued request-log record, then stops the writer. */
  close(): Promise<void>;
}

/** Endpoints hit by probes and scrapers: their app-log line is at debug, not info. */
const PROBES = new Set(["/", "/health", "/metrics", "/api/version"]);

/**
 * Wires the usage tap, the request log, metrics and the per-request app-log line into the
 * `Telemetry` that startServer calls: `observe` gives each forwarded response a UsageTap;
 * `done` turns the finished request into a request-log record, metric samples and one log line.
 */
export function createTelemetry(opts: {
  config: Config;
  log: Logger;
  /** Where the one line per request goes (AppLog.lines: no redaction to pay for); default `log`. */
  lines?: Logger;
  /** The app log, whose health /health reports beside the request log's. */
  appLog?: Pick<AppLog, "health">;
  /** Overrides for the request-log writer (tests: a small queue, a short busy timeout). */
  requestLog?: Partial<Omit<RequestLogOptions, "path" | "log">>;
}): TelemetryHandle {
  let config = opts.config;
  const { log } = opts;
  const lines = opts.lines ?? log;
  let fleet: Fleet | null = null;
  let server: ServerSources | null = null;
  const requestLog = config.logging.requestLog
    ? openRequestLog({
        path: config.database,
        retentionDays: config.logging.retentionDays,
        log,
        ...opts.requestLog,
      })
    : null;
  const metrics: Metrics | null = config.metrics.enabled
    ? createMetrics({
        fleet: () => fleet,
        requestLog: () => requestLog?.stats() ?? null,
        server: () => server,
      })
    : null;
  const taps = new WeakMap<RequestContext, UsageTap>();
  const answers = new WeakMap<RequestContext, () => string>();

  /**
   * Ollama model names are stored normalised (llama3 = llama3:latest); a model of an external
   * host as the config's assignment (or the client) writes it: `:latest` means nothing there.
   */
  const storedModel = (ctx: RequestContext): string | null => {
    if (ctx.model === null) return null;
    const key = normalizeModel(ctx.model);
    const assigned = config.models.explicitAssignments.get(key);
    const target = ctx.server ?? assigned?.target;
    if (!config.externalHosts.some((h) => h.key === target)) return key;
    return assigned?.model ?? ctx.model;
  };

  return {
    requestLog,
    observe(ctx) {
      const tap = new UsageTap(ctx);
      taps.set(ctx, tap);
      if (!config.logging.logBodies) return tap;
      // log_bodies: the first BODY_LOG_BYTES of the answer are kept for the log line as well.
      const kept: Buffer[] = [];
      let size = 0;
      answers.set(ctx, () => bodyForLog(kept, size));
      return {
        chunk(data) {
          if (size < BODY_LOG_BYTES) kept.push(data.subarray(0, BODY_LOG_BYTES - size));
          size += data.length;
          tap.chunk(data);
        },
        end: (error) => tap.end(error),
      };
    },
    done(ctx) {
      const record = toRecord(ctx, storedModel(ctx), (taps.get(ctx)?.lines ?? 0) > 1);
      requestLog?.record(record);
      metrics?.request(ctx, modelLabel(ctx.model, fleet, config));
      // Never a header or a token here: only what the record holds, and bodies only when the
      // operator asked for them (logging.log_bodies).
      const level = PROBES.has(ctx.path) && ctx.status < 400 ? "debug" : "info";
      lines[level](
        {
          requestId: record.request_id,
          method: record.method,
          path: record.path,
          model: record.model,
          user: record.user_name,
          server: record.server,
          status: record.status,
          durationMs: record.duration_ms,
          ttftMs: record.ttft_ms,
          promptTokens: record.prompt_tokens,
          completionTokens: record.completion_tokens,
          tokensPerS: record.tokens_per_s,
          ...(record.error_code !== null ? { error: record.error_code } : {}),
          ...(record.client_aborted ? { clientAborted: true } : {}),
          ...(ctx.requestBody !== null ? { requestBody: ctx.requestBody } : {}),
          ...(answers.has(ctx) ? { responseBody: answers.get(ctx)!() } : {}),
        },
        "request",
      );
    },
    metrics: () => metrics?.text() ?? null,
    components: () => [
      ...(requestLog === null ? [] : [requestLog.health()]),
      ...(opts.appLog ? [opts.appLog.health()] : []),
    ],
    failover: (from, to) => metrics?.failover(from, to),
    attach(f, s) {
      fleet = f;
      server = s ?? null;
    },
    reload(next) {
      if (next.logging.retentionDays !== config.logging.retentionDays)
        requestLog?.setRetention(next.logging.retentionDays);
      config = next;
    },
    async close() {
      // Responses closed in this very turn (the server's last connections) record themselves first.
      await new Promise((r) => setImmediate(r));
      await requestLog?.close();
    },
  };
}
