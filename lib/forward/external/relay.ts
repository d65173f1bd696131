import type { IncomingMessage } from "node:http";
import type { RequestContext } from "../../context.js";
import { ProxyError } from "../../errors.js";
import { readBounded } from "../../http/body.js";
import { errorFrame, framingOf } from "../../http/respond.js";
import { asObject, isObject, type Json } from "../../json.js";
import { AnthropicReader, inputTokens } from "./anthropic-reader.js";
import { fromOpenAIChunk, fromOpenAICompletion, num, type Piece } from "./pieces.js";
import type { Plan } from "./plan.js";
import { providerMessage } from "./provider-errors.js";
import type { ClientSink } from "./sink.js";
import { SseParser } from "./sse.js";

/** Non-streamed chat answers are read whole to be translated, up to this size. */
const MAX_ANSWER_BYTES = 32 * 1024 * 1024;
/** Embeddings answers too; a large batch in JSON text is far bigger than any chat answer. */
const MAX_EMBEDDINGS_BYTES = 256 * 1024 * 1024;

/** Reads a provider's answer into pieces and writes the client's answer from them. */
export async function translate(
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
    return writer.failure(e.message, e.code);
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
 * An OpenAI answer (or an Anthropic one, for /v1/messages to an Anthropic host) passed
 * through: SSE relayed event by event as received (minus the usage chunk the proxy asked for
 * on its own), anything else byte for byte; token counts are read on the way for the request log.
 */
export async function passThrough(up: IncomingMessage, sink: ClientSink, dropUsage: boolean): Promise<void> {
  const type = up.headers["content-type"] ?? "application/json";
  sink.head(up.statusCode ?? 200, type, up.headers);
  sink.onFail((e) => errorFrame(framingOf(type), e.message, e.code, sink.ctx.dialect));
  const ctx = sink.ctx;
  // OpenAI's usage (chat, responses) comes once; Anthropic's in parts: the input tokens in
  // message_start, the output tokens (and a stop reason) in message_delta. What a part does not
  // tell keeps what an earlier one did.
  const readUsage = (json: Json) => {
    const u =
      asObject(json.usage) ??
      asObject(asObject(json.response)?.usage) ??
      (json.type === "message_start" ? asObject(asObject(json.message)?.usage) : null);
    if (u === null) return;
    const prompt = num(u.prompt_tokens) ?? inputTokens(u);
    const completion = num(u.completion_tokens) ?? num(u.output_tokens);
    const stop = json.type === "message_delta" ? asObject(json.delta)?.stop_reason : json.stop_reason;
    ctx.usage = {
      promptTokens: prompt ?? ctx.usage?.promptTokens ?? null,
      completionTokens: completion ?? ctx.usage?.completionTokens ?? null,
      evalDurationNs: null,
      loadDurationNs: null,
      totalDurationNs: null,
      doneReason: typeof stop === "string" ? stop : (ctx.usage?.doneReason ?? null),
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

/** An OpenAI embeddings answer, read whole (bounded) and written in Ollama's shape. */
export async function relayEmbeddings(
  up: IncomingMessage,
  sink: ClientSink,
  model: string,
  legacy: boolean,
): Promise<void> {
  const answer = parseAnswer(await readText(up, MAX_EMBEDDINGS_BYTES));
  const translated = ollamaEmbeddings(answer, model, legacy, sink.ctx);
  sink.head(up.statusCode ?? 200, "application/json; charset=utf-8");
  await sink.write(JSON.stringify(translated));
  sink.end();
}

/** OpenAI's embeddings answer in Ollama's /api/embed (or older /api/embeddings) shape. */
function ollamaEmbeddings(answer: Json, model: string, legacy: boolean, ctx: RequestContext): Json {
  const data = Array.isArray(answer.data) ? (answer.data as Json[]) : [];
  const vectors = [...data]
    .sort((a, b) => Number(a.index ?? 0) - Number(b.index ?? 0))
    .map((d) => d.embedding);
  if (!vectors.every((v) => Array.isArray(v)))
    throw new ProxyError("upstream_bad_response", "the external host sent embeddings in an unknown form");
  const usage = asObject(answer.usage);
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

/** A provider's whole answer as a JSON object. */
function parseAnswer(text: string): Json {
  try {
    const json: unknown = JSON.parse(text);
    if (isObject(json)) return json;
  } catch {
    // Reported below.
  }
  throw new ProxyError("upstream_bad_response", "the external host sent an answer that is not a JSON object");
}

/**
 * A provider's answer as text, refusing more than `max` bytes. A broken answer rejects with an
 * `upstream_stream_error` whose cause is the socket's error (the caller knows whether one of its
 * deadlines caused it).
 */
export async function readText(res: IncomingMessage, max: number): Promise<string> {
  const body = await readBounded(res, {
    max,
    tooLarge: () =>
      new ProxyError(
        "upstream_bad_response",
        `the external host's answer is larger than ${max / 1048576} MB`,
      ),
    broken: (err) => new ProxyError("upstream_stream_error", err.message, { cause: err }),
  });
  if (body instanceof ProxyError) {
    res.destroy();
    throw body;
  }
  return body.toString("utf8");
}
