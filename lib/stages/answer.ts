import type { IncomingMessage, ServerResponse } from "node:http";
import type { Config } from "../config/types.js";
import { ProxyError } from "../errors.js";
import { sendJson, sendText } from "../http/respond.js";
import { type ConfigStatus, healthReport } from "../observe/health.js";
import type { Telemetry } from "../observe/telemetry.js";
import type { Policies, Policy } from "../policy/policies.js";
import type { Fleet } from "../routing/fleet.js";
import { buildInventory } from "../routing/inventory.js";
import {
  fleetVersion,
  modelNames,
  openaiModelInfo,
  openaiModels,
  psListing,
  tagsListing,
} from "../routing/listings.js";
import type { Scheduler } from "../schedule/types.js";
import type { User } from "../store/users.js";
import { VERSION } from "../version.js";
import type { LocalAnswer } from "./endpoints.js";

/** What the proxy's own answers are made from. */
export interface AnswerDeps {
  readonly fleet: Fleet;
  readonly policies: Policies;
  readonly telemetry: Telemetry;
  readonly startedAt: number;
  config(): Config;
  draining(): boolean;
  /** The scheduler, when some server has `parallel`. */
  scheduler(): Scheduler | null;
  /** The config's file, when it was loaded, the last reload's outcome (for /health). */
  configStatus(): ConfigStatus;
}

/** An answer of the proxy's own, before it is written. */
type Reply =
  | { readonly status: number; readonly json: unknown }
  | { readonly status: number; readonly text: string; readonly type: string };

/** The caller of an answer that needs a token, and the policy it is under (null: none). */
export interface Caller {
  readonly user: User;
  readonly policy: Policy | null;
}

/**
 * The answers the proxy gives from its own state — `/`, version, health, metrics, the merged
 * listings, `/proxy/me` — with no upstream call. `caller` is null on the public ones; the
 * listings show only what the caller's policy allows.
 */
export async function answer(
  d: AnswerDeps,
  kind: LocalAnswer,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  caller: Caller | null,
): Promise<ProxyError | undefined> {
  const reply = await build(d, kind, req, path, caller);
  if (reply instanceof ProxyError) return reply;
  if ("json" in reply) sendJson(res, reply.status, reply.json);
  else sendText(res, reply.status, reply.text, reply.type);
}

async function build(
  d: AnswerDeps,
  kind: LocalAnswer,
  req: IncomingMessage,
  path: string,
  caller: Caller | null,
): Promise<Reply | ProxyError> {
  const config = d.config();
  const policy = caller?.policy ?? null;
  switch (kind) {
    case "root":
      return { status: 200, text: "Ollama is running", type: "text/plain; charset=utf-8" };
    case "version":
      return { status: 200, json: { version: fleetVersion(d.fleet, VERSION) } };
    case "health": {
      const report = healthReport(d.fleet, {
        version: VERSION,
        startedAt: d.startedAt,
        shuttingDown: d.draining(),
        slowMs: config.health.slowThresholdMs,
        components: d.telemetry.components(),
        config: d.configStatus(),
        schedule: d.scheduler()?.snapshot(d.fleet.servers()) ?? null,
      });
      return { status: report.status === "down" ? 503 : 200, json: report };
    }
    case "metrics":
      return metrics(d, config, req);
    case "tags":
      return {
        status: 200,
        json: d.policies.filterListing(
          policy,
          "tags",
          tagsListing(config, d.fleet, new Date(d.startedAt).toISOString()),
        ),
      };
    case "ps":
      return { status: 200, json: d.policies.filterListing(policy, "ps", psListing(d.fleet)) };
    case "models":
      return { status: 200, json: d.policies.filterListing(policy, "models", openaiModels(config, d.fleet)) };
    case "model-info": {
      let name: string;
      try {
        name = decodeURIComponent(path.slice("/v1/models/".length));
      } catch {
        return new ProxyError("bad_request", `${path}: the model name is not valid percent-encoding`);
      }
      // A model the caller may not use is not there for it, as in its listings.
      const info = d.policies.allows(policy, name) ? openaiModelInfo(config, d.fleet, name) : null;
      return info === null
        ? new ProxyError("model_not_found", `model "${name}" not found`)
        : { status: 200, json: info };
    }
    case "inventory": {
      // ?model=NAME (repeatable) adds models no server has yet: what a pull would do with them.
      const also = new URL(req.url ?? "/", "http://x").searchParams.getAll("model");
      const all = buildInventory(config, d.fleet, also);
      // An admin manages every model; anyone else sees, as in the listings, what the policy allows.
      if (caller === null || caller.user.role === "admin") return { status: 200, json: all };
      const models = all.models.filter((m) => d.policies.allows(policy, m.model));
      return { status: 200, json: { ...all, models } };
    }
    case "status":
      // `ollama launch` and Ollama's app ask before they offer cloud models. Through the proxy the
      // answer is the proxy's own rule (cloud requests are refused unless allow_cloud), which
      // Ollama's vocabulary calls a decision of its config.
      return {
        status: 200,
        json: { cloud: { disabled: !config.allowCloud, source: config.allowCloud ? "none" : "config" } },
      };
    case "me": {
      if (caller === null) return new ProxyError("internal", "/proxy/me answered without a user");
      const { user } = caller;
      return {
        status: 200,
        json: {
          name: user.name,
          role: user.role,
          policy: policy?.name ?? null,
          expires_at: user.expiresAt === null ? null : new Date(user.expiresAt).toISOString(),
          models: d.policies.filterNames(policy, modelNames(config, d.fleet)),
        },
      };
    }
  }
}

/** GET /metrics: Prometheus text, when enabled, behind its own token when one is set. */
async function metrics(d: AnswerDeps, config: Config, req: IncomingMessage): Promise<Reply | ProxyError> {
  if (!config.metrics.enabled) return new ProxyError("not_found", "metrics are disabled in the config");
  const want = config.metrics.token;
  if (want !== null && req.headers.authorization !== `Bearer ${want}`) {
    return new ProxyError("unauthorized", "unauthorized: /metrics needs the metrics token", {
      headers: { "www-authenticate": 'Bearer realm="ollama-proxy-metrics"' },
    });
  }
  let text: string | null;
  try {
    text = await d.telemetry.metrics();
  } catch (err) {
    return new ProxyError("internal", `metrics: ${(err as Error).message}`);
  }
  if (text === null) return new ProxyError("not_found", "metrics are not available");
  return { status: 200, text, type: "text/plain; version=0.0.4; charset=utf-8" };
}
