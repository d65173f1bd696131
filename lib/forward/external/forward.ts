import { once } from "node:events";
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { ExternalHostConfig, LimitsConfig } from "../../config/types.js";
import { failRequest, type RequestContext } from "../../context.js";
import { ProxyError, sendError, sendJson } from "../../errors.js";
import type { Logger } from "../../log/app-log.js";
import type { PeekedBody } from "../../peek.js";
import { chatFromOllama, embeddingsFromOllama, LOAD_ONLY } from "./from-ollama.js";
import { AnthropicReader, fromOpenAIChunk, fromOpenAICompletion, type Piece } from "./pieces.js";
import { providerError, providerMessage, providerStreamError, scrub } from "./provider-errors.js";
import { SseParser } from "./sse.js";
import { anthropicFromOpenAI } from "./to-anthropic.js";
import { callProvider, ProviderAgents, providerHeaders } from "./upstream.js";
import { type AnswerWriter, type Clock, OllamaWriter, OpenAIWriter } from "./writers.js";

type Json = Record<string, unknown>;

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

/** Non-streamed chat answers are read whole to be translated, up to this size. */
const MAX_ANSWER_BYTES = 32 * 1024 * 1024;
/** Embeddings answers too; a large batch in JSON text is far bigger than any chat answer. */
const MAX_EMBEDDINGS_BYTES = 256 * 1024 * 1024;
const MAX_ERROR_BYTES = 64 * 1024;

/** Response headers of a passed-through answer that mean something to the client; the rest (cookies, org ids) stay. */
const PASS_HEADERS = /^(content-type|retry-after|retry-after-ms|x-ratelimit-[a-z-]+)$/;

/** What a request becomes: a call to the provider and a way to answer, or an answer made at the proxy. */
type Plan =
  | { kind: "local"; status: number; body: Json; ndjson: boolean }
  | {
      kind: "translate";
      path: string;
      body: Json;
      stream: boolean;
      reader: "openai" | "anthropic";
      jsonTool: string | null;
      writer: (clock: Clock) => AnswerWriter;
    }
  | { kind: "embed"; body: Json; legacy: boolean }
  | { kind: "pass"; path: string; body: Json; stream: boolean; dropUsage: boolean };

/**
 * The forward stage for external hosts. Unlike Ollama traffic this is not a byte pipe: the
 * request is read whole (it is small next to the answer), rewritten for the provider, and
 * the answer is translated piece by piece as it streams — never buffered when streamed.
 * OpenAI-dialect requests to an OpenAI-style host go through as they are, key swapped.
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

    const raw = await readBody(x.req, x.body, opts.limits().maxBodyBytes);
    if (raw instanceof ProxyError) return fail(raw);
    ctx.bytesIn = raw.length;
    let json: Json;
    try {
      const parsed: unknown = JSON.parse(raw.toString("utf8"));
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
        return fail(new ProxyError("bad_request", "invalid JSON: the request body must be a JSON object"));
      json = parsed as Json;
    } catch (err) {
      return fail(new ProxyError("bad_request", `invalid JSON: ${(err as Error).message}`));
    }

    let plan: Plan;
    try {
      plan = makePlan(ctx.path, json, x.model, ctx.model ?? x.model, host, opts.startedAt);
    } catch (err) {
      if (err instanceof ProxyError) return fail(err);
      throw err;
    }
    if (plan.kind === "local") {
      ctx.status = plan.status;
      ctx.tEnd = performance.now();
      if (!plan.ndjson) return sendJson(res, plan.status, plan.body, serverHeader(host));
      res.writeHead(plan.status, { "content-type": "application/x-ndjson", ...serverHeader(host) });
      res.end(`${JSON.stringify(plan.body)}\n`);
      return;
    }

    // The client may have left while its body was read: nothing to ask the provider for.
    if (res.destroyed) return;
    const key = keyOf(host);
    const out = Buffer.from(JSON.stringify(plan.body));
    const upstreamPath = plan.kind === "embed" ? "/embeddings" : plan.path;
    const stream = plan.kind !== "embed" && plan.stream;
    ctx.attempts++;
    ctx.tSent = performance.now();
    const call = callProvider(
      host,
      agents.get(host),
      upstreamPath,
      providerHeaders(host, key, out.length, stream),
      out,
      opts.limits(),
    );
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
    call.idle(opts.limits().upstreamIdleTimeoutMs);

    const sink = new ClientSink(res, ctx, host);
    try {
      if (plan.kind === "pass") {
        await passThrough(up, sink, plan.dropUsage);
      } else if (plan.kind === "embed") {
        const answer = parseAnswer(await readText(up, MAX_EMBEDDINGS_BYTES));
        const translated = ollamaEmbeddings(answer, ctx.model ?? x.model, plan.legacy, ctx);
        sink.head(status, "application/json; charset=utf-8");
        await sink.write(JSON.stringify(translated));
        sink.end();
      } else {
        await translate(up, plan, sink, ctx, (type, message) =>
          providerStreamError(host, type, message, key),
        );
      }
    } catch (err) {
      if (res.destroyed) return; // the client left: the close handler aborted the provider
      const e =
        err instanceof ProxyError
          ? err
          : new ProxyError(
              "upstream_bad_response",
              `${host.key} stopped mid-response (${describe(call.ended() ?? (err as NodeJS.ErrnoException))})`,
            );
      log.warn({ requestId: ctx.id, host: host.key, error: e.message }, "external answer failed");
      if (!sink.started()) return fail(e);
      ctx.errorCode = e.code === "upstream_bad_response" ? "upstream_stream_error" : e.code;
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
        if (!x.res.headersSent) sendError(x.res, new ProxyError("internal", "internal error"), x.ctx.dialect);
        else x.res.destroy();
      });
    },
    close() {
      agents.close();
    },
  };
}

/** Decides what a request for an external model becomes, from the path and the host's kind. */
function makePlan(
  path: string,
  body: Json,
  providerModel: string,
  clientModel: string,
  host: ExternalHostConfig,
  startedAt: string,
): Plan {
  const anthropic = host.type === "anthropic";
  const unsupported = (what: string) =>
    new ProxyError(
      "bad_request",
      `${what} is not available for "${clientModel}": ${host.key} is an Anthropic host`,
    );
  switch (path) {
    case "/api/chat":
    case "/api/generate": {
      const chat = path === "/api/chat";
      const req = chatFromOllama(path, body, providerModel);
      if (req === LOAD_ONLY) {
        // Ollama loads (with keep_alive 0: unloads) the model and answers at once; a hosted model has nothing to load.
        const created_at = new Date().toISOString();
        const done_reason = body.keep_alive === 0 || body.keep_alive === "0" ? "unload" : "load";
        const answer = chat
          ? {
              model: clientModel,
              created_at,
              message: { role: "assistant", content: "" },
              done_reason,
              done: true,
            }
          : { model: clientModel, created_at, response: "", done_reason, done: true };
        return { kind: "local", status: 200, body: answer, ndjson: body.stream !== false };
      }
      const stream = req.body.stream === true;
      const writer = (clock: Clock) => new OllamaWriter({ chat, stream, model: clientModel, clock });
      if (!anthropic)
        return {
          kind: "translate",
          path: "/chat/completions",
          body: req.body,
          stream,
          reader: "openai",
          jsonTool: null,
          writer,
        };
      const a = anthropicFromOpenAI(req, providerModel);
      return {
        kind: "translate",
        path: "/messages",
        body: a.body,
        stream,
        reader: "anthropic",
        jsonTool: a.jsonTool,
        writer,
      };
    }
    case "/api/embed":
    case "/api/embeddings":
      if (anthropic) throw unsupported("embeddings");
      return {
        kind: "embed",
        body: embeddingsFromOllama(path, body, providerModel),
        legacy: path === "/api/embeddings",
      };
    case "/api/show":
      return { kind: "local", status: 200, body: showAnswer(clientModel, host, startedAt), ndjson: false };
    case "/v1/chat/completions": {
      const stream = body.stream === true;
      if (!anthropic) return passPlan(path, body, providerModel, true);
      if (!Array.isArray(body.messages))
        throw new ProxyError("bad_request", "invalid request: messages must be a list");
      const includeUsage = (body.stream_options as Json | undefined)?.include_usage === true;
      const a = anthropicFromOpenAI({ body, topK: null }, providerModel);
      return {
        kind: "translate",
        path: "/messages",
        body: a.body,
        stream,
        reader: "anthropic",
        jsonTool: a.jsonTool,
        writer: (clock) => new OpenAIWriter({ stream, includeUsage, model: clientModel, clock }),
      };
    }
    case "/v1/completions":
      if (anthropic) throw unsupported("/v1/completions");
      return passPlan(path, body, providerModel, true);
    case "/v1/embeddings":
      if (anthropic) throw unsupported("embeddings");
      return passPlan(path, body, providerModel, false);
    case "/v1/responses":
      if (anthropic) throw unsupported("/v1/responses");
      return passPlan(path, body, providerModel, false);
    default:
      throw new ProxyError(
        "bad_request",
        `${path} is not available for "${clientModel}" on external host ${host.key}`,
      );
  }
}

/**
 * An OpenAI-dialect request to an OpenAI-style host: the body goes as it is, with two
 * changes — the model name the provider knows, and, on a stream whose client did not ask for
 * usage, `stream_options.include_usage` (so the request log gets token counts); the extra
 * usage chunk that brings is taken out of the answer again, as the client did not ask for it.
 */
function passPlan(path: string, body: Json, model: string, usageOption: boolean): Plan {
  const stream = body.stream === true;
  const out: Json = { ...body, model };
  let dropUsage = false;
  if (stream && usageOption) {
    const so = (
      typeof body.stream_options === "object" && body.stream_options !== null ? body.stream_options : {}
    ) as Json;
    if (so.include_usage !== true) {
      out.stream_options = { ...so, include_usage: true };
      dropUsage = true;
    }
  }
  return { kind: "pass", path: path.slice("/v1".length), body: out, stream, dropUsage };
}

/** Ollama's /api/show for a model that lives elsewhere: what the proxy knows of it. */
function showAnswer(model: string, host: ExternalHostConfig, startedAt: string): Json {
  return {
    license: "",
    modelfile: `# ${model} is served by the external host "${host.name}" (${host.type} API)\n`,
    parameters: "",
    template: "",
    system: "",
    details: {
      parent_model: "",
      format: "external",
      family: host.type,
      families: [host.type],
      parameter_size: "",
      quantization_level: "",
    },
    model_info: { "general.architecture": host.type },
    capabilities: ["completion", "tools"],
    modified_at: startedAt,
  };
}

/** OpenAI's embeddings answer in Ollama's /api/embed (or older /api/embeddings) shape. */
function ollamaEmbeddings(answer: Json, model: string, legacy: boolean, ctx: RequestContext): Json {
  const data = Array.isArray(answer.data) ? (answer.data as Json[]) : [];
  const vectors = [...data]
    .sort((a, b) => Number(a.index ?? 0) - Number(b.index ?? 0))
    .map((d) => d.embedding);
  if (!vectors.every((v) => Array.isArray(v)))
    throw new ProxyError("upstream_bad_response", "the external host sent embeddings in an unknown form");
  const usage = answer.usage as Json | undefined;
  const prompt = typeof usage?.prompt_tokens === "number" ? usage.prompt_tokens : null;
  const total = Math.round((performance.now() - ctx.t0) * 1e6);
  ctx.usage = {
    promptTokens: prompt,
    completionTokens: null,
    evalDurationNs: null,
    loadDurationNs: 0,
    totalDurationNs: total,
    doneReason: null,
  };
  if (legacy) return { embedding: vectors[0] ?? [] };
  return {
    model,
    embeddings: vectors,
    total_duration: total,
    load_duration: 0,
    ...(prompt === null ? {} : { prompt_eval_count: prompt }),
  };
}

/** Reads a provider's answer into pieces and writes the client's answer from them. */
async function translate(
  up: IncomingMessage,
  plan: Extract<Plan, { kind: "translate" }>,
  sink: ClientSink,
  ctx: RequestContext,
  streamError: (type: string, message: string) => ProxyError,
): Promise<void> {
  const writer = plan.writer({ t0: ctx.t0, sent: () => ctx.tSent });
  const anthropic = plan.reader === "anthropic" ? new AnthropicReader(plan.jsonTool) : null;
  const onPieces = async (pieces: Piece[]) => {
    for (const p of pieces) {
      if (p.kind === "error") throw streamError(p.type, p.message);
      const text = writer.piece(p);
      if (text !== "") {
        sink.head(200, writer.contentType);
        await sink.write(text);
      }
    }
  };
  sink.onFail((e) => {
    ctx.usage = writer.usage();
    return writer.errorLine(e.message, e.code);
  });
  const type = up.headers["content-type"] ?? "";
  if (type.includes("event-stream")) {
    const parser = new SseParser();
    const handle = async (events: ReturnType<SseParser["push"]>) => {
      for (const ev of events) {
        if (ev.data === "" || ev.data === "[DONE]") continue;
        let json: Json;
        try {
          json = JSON.parse(ev.data) as Json;
        } catch {
          throw new ProxyError("upstream_bad_response", "the external host sent an event that is not JSON");
        }
        await onPieces(anthropic !== null ? anthropic.event(json) : fromOpenAIChunk(json));
      }
    };
    for await (const chunk of up) await handle(parser.push(chunk as Buffer));
    await handle(parser.end());
  } else {
    const json = parseAnswer(await readText(up, MAX_ANSWER_BYTES));
    await onPieces(anthropic !== null ? anthropic.message(json) : fromOpenAICompletion(json));
  }
  const last = writer.end();
  ctx.usage = writer.usage();
  sink.head(200, writer.contentType);
  await sink.write(last);
  sink.end();
}

/**
 * An OpenAI answer passed through: SSE relayed event by event as received (minus the usage
 * chunk the proxy asked for on its own), anything else byte for byte; token counts are read on
 * the way for the request log.
 */
async function passThrough(up: IncomingMessage, sink: ClientSink, dropUsage: boolean): Promise<void> {
  const type = up.headers["content-type"] ?? "application/json";
  sink.head(up.statusCode ?? 200, type, up.headers);
  sink.onFail((e) =>
    type.includes("event-stream")
      ? `data: ${JSON.stringify({ error: { message: e.message, type: "server_error", code: "upstream_stream_error" } })}\n\n`
      : null,
  );
  const ctx = sink.ctx;
  const readUsage = (json: Json) => {
    const u = (json.usage ?? (json.response as Json | undefined)?.usage) as Json | undefined | null;
    if (typeof u !== "object" || u === null) return;
    const prompt = u.prompt_tokens ?? u.input_tokens;
    const completion = u.completion_tokens ?? u.output_tokens;
    ctx.usage = {
      promptTokens: typeof prompt === "number" ? prompt : null,
      completionTokens: typeof completion === "number" ? completion : null,
      evalDurationNs: null,
      loadDurationNs: null,
      totalDurationNs: null,
      doneReason: null,
    };
  };
  if (type.includes("event-stream")) {
    const parser = new SseParser();
    const relay = async (events: ReturnType<SseParser["push"]>) => {
      for (const ev of events) {
        if (ev.data !== "" && ev.data !== "[DONE]") {
          try {
            const json = JSON.parse(ev.data) as Json;
            readUsage(json);
            if (json.error !== undefined && json.error !== null) {
              ctx.errorCode = "upstream_stream_error";
              ctx.errorMessage = providerMessage(ev.data, 200).message;
            }
            if (dropUsage && Array.isArray(json.choices) && json.choices.length === 0 && json.usage) continue;
          } catch {
            // Not ours to judge: relayed as it came.
          }
        }
        await sink.write(ev.raw);
      }
    };
    for await (const chunk of up) await relay(parser.push(chunk as Buffer));
    await relay(parser.end());
    // Durations as Ollama reports them, measured here, so the request log can tell tokens/s.
    if (ctx.usage !== null && ctx.tFirstChunk !== null) {
      const now = performance.now();
      ctx.usage.evalDurationNs = Math.round((now - ctx.tFirstChunk) * 1e6);
      ctx.usage.totalDurationNs = Math.round((now - ctx.t0) * 1e6);
    }
  } else {
    // Bodies are relayed as they come; up to a bound, a copy is kept to read the usage at the end.
    const kept: Buffer[] = [];
    let keptBytes = 0;
    for await (const chunk of up) {
      const b = chunk as Buffer;
      if (keptBytes + b.length <= MAX_ANSWER_BYTES) kept.push(b);
      keptBytes += b.length;
      await sink.write(b);
    }
    if (keptBytes <= MAX_ANSWER_BYTES) {
      try {
        readUsage(JSON.parse(Buffer.concat(kept).toString("utf8")) as Json);
      } catch {
        // Not JSON: no usage to read.
      }
    }
  }
  sink.end();
}

/**
 * The client's side of an external answer: headers sent at the first byte (so that an error
 * before any content can still be a proper error status), writes that wait for a slow client,
 * and byte and timing accounting for the request log.
 */
class ClientSink {
  readonly ctx: RequestContext;
  private readonly res: ServerResponse;
  private readonly host: ExternalHostConfig;
  private errorText: ((e: ProxyError) => string | null) | null = null;

  constructor(res: ServerResponse, ctx: RequestContext, host: ExternalHostConfig) {
    this.res = res;
    this.ctx = ctx;
    this.host = host;
  }

  started(): boolean {
    return this.res.headersSent;
  }

  /** Sends the response head once. */
  head(status: number, contentType: string, upstream?: IncomingHttpHeaders): void {
    if (this.res.headersSent) return;
    const headers: OutgoingHttpHeaders = {};
    if (upstream !== undefined) {
      for (const [name, value] of Object.entries(upstream))
        if (PASS_HEADERS.test(name)) headers[name] = value;
    }
    headers["content-type"] = contentType;
    if (contentType.includes("event-stream")) headers["cache-control"] = "no-cache";
    const overhead = this.ctx.tSent === null ? 0 : this.ctx.tSent - this.ctx.t0;
    headers["x-ollama-proxy-overhead-ms"] = overhead.toFixed(2);
    Object.assign(headers, serverHeader(this.host));
    this.ctx.status = status;
    this.res.writeHead(status, headers);
  }

  /** Writes, and waits while the client's socket is full (backpressure reaches the provider through the paused read). */
  async write(data: string | Buffer): Promise<void> {
    if (this.res.destroyed) throw Object.assign(new Error("client gone"), { code: "ECLIENTGONE" });
    this.ctx.tFirstChunk ??= performance.now();
    this.ctx.bytesOut += typeof data === "string" ? Buffer.byteLength(data) : data.length;
    if (!this.res.write(data)) {
      await Promise.race([once(this.res, "drain"), once(this.res, "close")]);
    }
  }

  end(): void {
    this.ctx.tEnd = performance.now();
    this.res.end();
  }

  /** How a failure after the head is told in-band (an NDJSON error line, an SSE error event); null = cut the connection. */
  onFail(text: (e: ProxyError) => string | null): void {
    this.errorText = text;
  }

  /** The provider failed after the head went out: one in-band error, then the end. */
  fail(e: ProxyError): void {
    this.ctx.tEnd = performance.now();
    const text = this.errorText?.(e) ?? null;
    if (text === null) this.res.destroy();
    else {
      this.ctx.bytesOut += Buffer.byteLength(text);
      this.res.end(text);
    }
  }
}

function serverHeader(host: ExternalHostConfig): Record<string, string> {
  return { "x-ollama-proxy-server": host.key };
}

/** The whole request body: what the peek stage kept, then the rest, bounded by max_body_mb. */
async function readBody(req: IncomingMessage, peeked: PeekedBody, max: number): Promise<Buffer | ProxyError> {
  if (peeked.complete) return Buffer.concat(peeked.chunks);
  const chunks = [...peeked.chunks];
  let bytes = peeked.bytes;
  try {
    for await (const c of req) {
      bytes += (c as Buffer).length;
      if (bytes > max)
        return new ProxyError("body_too_large", `request body is larger than ${max / 1048576} MB`, {
          headers: { connection: "close" },
        });
      chunks.push(c as Buffer);
    }
  } catch (err) {
    return new ProxyError("bad_request", `request body: ${(err as Error).message}`);
  }
  return Buffer.concat(chunks);
}

/** A provider's whole answer as a JSON object. */
function parseAnswer(text: string): Json {
  try {
    const json: unknown = JSON.parse(text);
    if (typeof json === "object" && json !== null && !Array.isArray(json)) return json as Json;
  } catch {
    // Reported below.
  }
  throw new ProxyError("upstream_bad_response", "the external host sent an answer that is not a JSON object");
}

/** A response body as text, refusing more than `max` bytes. */
async function readText(res: IncomingMessage, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const c of res) {
    bytes += (c as Buffer).length;
    if (bytes > max) {
      res.destroy();
      throw new ProxyError(
        "upstream_bad_response",
        `the external host's answer is larger than ${max / 1048576} MB`,
      );
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function describe(err: NodeJS.ErrnoException): string {
  if (err.code === "EIDLE_TIMEOUT") return err.message;
  if (err.code === "ECONNRESET" || err.message === "aborted") return "connection lost";
  return err.code ?? err.message;
}
