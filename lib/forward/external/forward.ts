import type { IncomingMessage, ServerResponse } from "node:http";
import type { ExternalHostConfig, LimitsConfig } from "../../config/types.js";
import type { RequestContext } from "../../context.js";
import { ProxyError } from "../../errors.js";
import { type PeekedBody, wholeBody } from "../../http/body.js";
import { failRequest, sendJson, sendText } from "../../http/respond.js";
import { isObject } from "../../json.js";
import type { Logger } from "../../log/app-log.js";
import { midStreamError } from "../upstream.js";
import { makePlan } from "./plan.js";
import { anthropicClientHeaders, callProvider, ProviderAgents, providerHeaders } from "./provider.js";
import { providerError, providerMessage, providerStreamError, scrub } from "./provider-errors.js";
import { passThrough, readText, relayEmbeddings, translate } from "./relay.js";
import { ClientSink } from "./sink.js";

/** A request for a model assigned to an external host. */
export interface ExternalRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly ctx: RequestContext;
  /** What the peek stage read of the body. */
  readonly body: PeekedBody;
  readonly host: ExternalHostConfig;
  /** The model name the provider knows (the assignment as written in the config). */
  readonly model: string;
}

/** Sends requests for externally hosted models to OpenAI-style and Anthropic APIs, in either client dialect. */
export interface ExternalForwarder {
  forward(request: ExternalRequest): void;
  close(): void;
}

const MAX_ERROR_BYTES = 64 * 1024;

/**
 * The forward stage for external hosts. Unlike Ollama traffic this is not a byte pipe: the
 * request is read whole (it is small next to the answer), rewritten for the provider
 * (plan.ts), and the answer is translated piece by piece as it streams (relay.ts) — never
 * buffered when streamed — and written to the client (sink.ts). OpenAI-dialect requests to an
 * OpenAI-style host go through as they are, key swapped.
 */
export function createExternalForwarder(opts: {
  log: Logger;
  limits: () => LimitsConfig;
  environ: NodeJS.ProcessEnv;
  startedAt: string;
}): ExternalForwarder {
  const { log } = opts;
  const agents = new ProviderAgents();

  const keyOf = (host: ExternalHostConfig): string | null =>
    host.apiKeyEnv === null ? null : (opts.environ[host.apiKeyEnv] ?? null) || null;

  const run = async (x: ExternalRequest): Promise<void> => {
    const { ctx, res, host } = x;
    ctx.server = host.key;
    // Errors too say which host they concern (which provider sent that 429?).
    res.setHeader("x-ollama-proxy-server", host.key);
    const fail = (err: ProxyError) => {
      ctx.tEnd = performance.now();
      failRequest(res, ctx, err);
    };

    const raw = await wholeBody(x.req, x.body, opts.limits().maxBodyBytes);
    if (raw instanceof ProxyError) return fail(raw);
    ctx.bytesIn = raw.length;
    let json: unknown;
    try {
      json = JSON.parse(raw.toString("utf8"));
    } catch (err) {
      return fail(new ProxyError("bad_request", `invalid JSON: ${(err as Error).message}`));
    }
    if (!isObject(json))
      return fail(new ProxyError("bad_request", "invalid JSON: the request body must be a JSON object"));

    let plan: ReturnType<typeof makePlan>;
    try {
      plan = makePlan(ctx.path, json, x.model, ctx.model ?? x.model, host, opts.startedAt);
    } catch (err) {
      if (err instanceof ProxyError) return fail(err);
      throw err;
    }
    if (plan.kind === "local") {
      ctx.status = plan.status;
      ctx.tEnd = performance.now();
      if (!plan.ndjson) return sendJson(res, plan.status, plan.body);
      return sendText(res, plan.status, `${JSON.stringify(plan.body)}\n`, "application/x-ndjson");
    }

    // The client may have left while its body was read: nothing to ask the provider for.
    if (res.destroyed) return;
    const key = keyOf(host);
    const out = Buffer.from(JSON.stringify(plan.body));
    const upstreamPath = plan.kind === "embed" ? "/embeddings" : plan.path;
    const stream = plan.kind !== "embed" && plan.stream;
    ctx.attempts++;
    ctx.tSent = performance.now();
    const limits = opts.limits();
    const headers = providerHeaders(host, key, out.length, stream);
    if (plan.kind === "pass" && host.type === "anthropic")
      Object.assign(headers, anthropicClientHeaders(x.req.headers));
    const call = callProvider(host, agents.get(host), upstreamPath, headers, out, limits);
    // The client leaving ends the provider's work too: it bills for every token it generates.
    res.once("close", () => {
      if (!res.writableFinished) call.abort();
    });
    let up: IncomingMessage;
    try {
      up = await call.response;
    } catch (err) {
      if (res.destroyed) return;
      log.warn(
        { requestId: ctx.id, host: host.key, error: (err as Error).message },
        "external host unreachable",
      );
      return fail(err as ProxyError);
    }
    ctx.tHeaders = performance.now();
    const status = up.statusCode ?? 502;
    if (status >= 400) {
      const text = await readText(up, MAX_ERROR_BYTES).catch(() => "");
      const err = providerError(host, status, up.headers, text, key);
      logProviderError(host, status, scrub(providerMessage(text, status).message, key), ctx.id);
      return fail(err);
    }

    const sink = new ClientSink(res, ctx, host, limits.sendTimeoutMs);
    try {
      if (plan.kind === "pass") {
        await passThrough(up, sink, plan.dropUsage);
      } else if (plan.kind === "embed") {
        await relayEmbeddings(up, sink, ctx.model ?? x.model, plan.legacy);
      } else {
        await translate(up, plan, sink, ctx, (type, message) =>
          providerStreamError(host, type, message, key),
        );
      }
    } catch (err) {
      if (res.destroyed) return; // the client left: the close handler aborted the provider
      const e = answerFailure(err, call.ended(), host.key);
      log.warn({ requestId: ctx.id, host: host.key, error: e.message }, "external answer failed");
      if (!sink.started()) return fail(e);
      ctx.errorCode = e.code;
      ctx.errorMessage = e.message;
      sink.fail(e);
    }
  };

  const logProviderError = (host: ExternalHostConfig, status: number, message: string, requestId: string) => {
    if (status === 401 || status === 403) {
      // The operator's key, not the client: say where to look, never what the key is.
      log.error(
        { requestId, host: host.key, status, keyVariable: host.apiKeyEnv, providerMessage: message },
        `external host refused the API key: check ${host.apiKeyEnv ?? "its api_key_env"}`,
      );
    } else if (status >= 500) {
      log.warn({ requestId, host: host.key, status, providerMessage: message }, "external host error");
    }
  };

  return {
    forward(x) {
      run(x).catch((err: Error) => {
        log.error({ requestId: x.ctx.id, err }, "external forward failed");
        failRequest(x.res, x.ctx, new ProxyError("internal", "internal error in ollama-proxy"));
      });
    },
    close() {
      agents.close();
    },
  };
}

/**
 * Why reading a provider's answer failed: a ProxyError the relay raised (a provider error
 * event, an answer that is not JSON) as it is; a broken connection as the stream error it is,
 * told by the deadline that cut it when one did.
 */
function answerFailure(err: unknown, deadline: Error | null, host: string): ProxyError {
  if (err instanceof ProxyError && err.code !== "upstream_stream_error") return err;
  const cause = err instanceof ProxyError ? err.cause : err;
  return midStreamError(deadline ?? (cause as NodeJS.ErrnoException), host);
}
