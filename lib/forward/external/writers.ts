import { randomUUID } from "node:crypto";
import type { Usage } from "../../context.js";
import { type ErrorCode, ProxyError } from "../../errors.js";
import { errorEvent, errorLine } from "../../http/respond.js";
import type { FinishReason, Piece } from "./pieces.js";

/** When the parts of an answer happened (performance.now() ms), for the durations Ollama reports. */
export interface Clock {
  /** The request arrived at the proxy. */
  readonly t0: number;
  /** The request left for the provider. */
  readonly sent: () => number | null;
}

/** A client answer being written from pieces: text to send now, and the usage it saw. */
export interface AnswerWriter {
  /** Content type of the answer. */
  readonly contentType: string;
  /** True when the answer goes out as it comes (NDJSON, SSE); false for one JSON body at the end. */
  readonly streamed: boolean;
  /** Text to send for this piece ("" when nothing goes out yet). */
  piece(p: Piece): string;
  /** The answer is complete: its last text (final chunk, or the whole body). Throws a ProxyError if the pieces cannot make an answer. */
  end(): string;
  /** The provider failed after text went out: the in-band error that ends the stream. */
  failure(message: string, code: ErrorCode): string;
  /** Token counts, finish reason and durations, for the request log. */
  usage(): Usage;
}

interface ToolCall {
  id: string | null;
  name: string;
  args: string;
}

/** What every writer keeps: tool calls being assembled, the finish reason, token counts, timings. */
abstract class Collected {
  protected readonly clock: Clock;
  protected readonly tools = new Map<number, ToolCall>();
  protected finish: FinishReason | null = null;
  protected promptTokens: number | null = null;
  protected completionTokens: number | null = null;
  protected providerModel = "";
  protected providerId = "";
  private firstToken: number | null = null;
  private ended: number | null = null;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** Records what every piece says; true when the piece is content (text, thinking or a tool call). */
  protected take(p: Piece): boolean {
    switch (p.kind) {
      case "meta":
        if (p.model !== "") this.providerModel = p.model;
        if (p.id !== "") this.providerId = p.id;
        return false;
      case "finish":
        this.finish = p.reason;
        return false;
      case "usage":
        if (p.promptTokens !== null) this.promptTokens = p.promptTokens;
        if (p.completionTokens !== null) this.completionTokens = p.completionTokens;
        return false;
      case "tool": {
        const call = this.tools.get(p.index);
        if (call === undefined) this.tools.set(p.index, { id: p.id, name: p.name ?? "", args: p.args });
        else {
          if (p.id !== null) call.id = p.id;
          if (p.name !== null) call.name += p.name;
          call.args += p.args;
        }
        this.firstToken ??= performance.now();
        return true;
      }
      case "error":
        return false;
      default:
        this.firstToken ??= performance.now();
        return true;
    }
  }

  protected markEnd(): void {
    this.ended ??= performance.now();
  }

  /** Ollama's durations, measured at the proxy: prompt = until the first token, eval = from it to the end. */
  protected durations() {
    const end = this.ended ?? performance.now();
    const sent = this.clock.sent() ?? this.clock.t0;
    const first = this.firstToken ?? end;
    const ns = (ms: number) => Math.max(0, Math.round(ms * 1e6));
    return {
      total_duration: ns(end - this.clock.t0),
      load_duration: 0,
      prompt_eval_duration: ns(first - sent),
      eval_duration: ns(end - first),
    };
  }

  /** Finished tool calls with their arguments parsed (Ollama sends objects, not JSON text). */
  protected parsedCalls(): { id: string | null; name: string; arguments: Record<string, unknown> }[] {
    return [...this.tools.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([, c]) => {
        let args: unknown;
        try {
          args = c.args.trim() === "" ? {} : JSON.parse(c.args);
        } catch {
          throw new ProxyError(
            "upstream_bad_response",
            `the external host sent arguments for tool "${c.name}" that are not JSON`,
          );
        }
        if (typeof args !== "object" || args === null || Array.isArray(args))
          throw new ProxyError(
            "upstream_bad_response",
            `the external host sent arguments for tool "${c.name}" that are not a JSON object`,
          );
        return { id: c.id, name: c.name, arguments: args as Record<string, unknown> };
      });
  }

  usage(): Usage {
    const d = this.durations();
    return {
      promptTokens: this.promptTokens,
      completionTokens: this.completionTokens,
      evalDurationNs: d.eval_duration,
      loadDurationNs: 0,
      totalDurationNs: d.total_duration,
      doneReason: this.finish === null ? null : ollamaDoneReason(this.finish),
    };
  }
}

/** Ollama's done_reason: tool calls end a turn like a stop does; a cut-off answer is "length". */
function ollamaDoneReason(f: FinishReason): string {
  return f === "length" ? "length" : "stop";
}

/**
 * Writes an Ollama answer (/api/chat: `message` chunks, /api/generate: `response` chunks):
 * NDJSON while streaming, then a synthesized `done: true` chunk with done_reason, token
 * counts and durations measured at the proxy; with stream: false, one object with all of it.
 * Tool calls are sent whole (Ollama never streams an unfinished call), once the answer finishes.
 */
export class OllamaWriter extends Collected implements AnswerWriter {
  readonly contentType: string;
  readonly streamed: boolean;
  private readonly chat: boolean;
  private readonly model: string;
  private text = "";
  private thinking = "";
  private toolsSent = false;

  constructor(opts: { chat: boolean; stream: boolean; model: string; clock: Clock }) {
    super(opts.clock);
    this.chat = opts.chat;
    this.streamed = opts.stream;
    this.model = opts.model;
    this.contentType = opts.stream ? "application/x-ndjson" : "application/json; charset=utf-8";
  }

  piece(p: Piece): string {
    const content = this.take(p);
    if (p.kind === "finish" && this.streamed) return this.toolChunk();
    if (!content || p.kind === "tool") return "";
    if (p.kind === "text") {
      if (!this.streamed) this.text += p.text;
      return this.streamed ? line(this.chunk(p.text, null)) : "";
    }
    if (p.kind === "thinking") {
      if (!this.streamed) this.thinking += p.text;
      return this.streamed ? line(this.chunk("", p.text)) : "";
    }
    return "";
  }

  end(): string {
    this.markEnd();
    const counts: Record<string, number> = {};
    if (this.promptTokens !== null) counts.prompt_eval_count = this.promptTokens;
    if (this.completionTokens !== null) counts.eval_count = this.completionTokens;
    const d = this.durations();
    const stats = {
      done_reason: ollamaDoneReason(this.finish ?? "stop"),
      total_duration: d.total_duration,
      load_duration: d.load_duration,
      ...(counts.prompt_eval_count === undefined ? {} : { prompt_eval_count: counts.prompt_eval_count }),
      prompt_eval_duration: d.prompt_eval_duration,
      ...(counts.eval_count === undefined ? {} : { eval_count: counts.eval_count }),
      eval_duration: d.eval_duration,
    };
    if (this.streamed) {
      const tools = this.toolChunk();
      return `${tools}${line({ ...this.chunk("", null), done: true, ...stats })}`;
    }
    const whole = this.chunk(this.text, this.thinking === "" ? null : this.thinking);
    if (this.chat && this.tools.size > 0)
      (whole.message as Record<string, unknown>).tool_calls = this.ollamaCalls();
    return JSON.stringify({ ...whole, done: true, ...stats });
  }

  failure(message: string, _code: ErrorCode): string {
    return errorLine(message);
  }

  private chunk(content: string, thinking: string | null): Record<string, unknown> {
    const created_at = new Date().toISOString();
    if (this.chat) {
      const message: Record<string, unknown> = { role: "assistant", content };
      if (thinking !== null) message.thinking = thinking;
      return { model: this.model, created_at, message, done: false };
    }
    const out: Record<string, unknown> = { model: this.model, created_at, response: content, done: false };
    if (thinking !== null) out.thinking = thinking;
    return out;
  }

  /** The chunk carrying the finished tool calls (once), or "". */
  private toolChunk(): string {
    if (this.toolsSent || this.tools.size === 0 || !this.chat) return "";
    this.toolsSent = true;
    const c = this.chunk("", null);
    (c.message as Record<string, unknown>).tool_calls = this.ollamaCalls();
    return line(c);
  }

  private ollamaCalls() {
    // The provider's call id rides along, so that the client's tool results can be matched to it next turn.
    return this.parsedCalls().map((c) => ({
      ...(c.id === null ? {} : { id: c.id }),
      function: { name: c.name, arguments: c.arguments },
    }));
  }
}

/**
 * Writes an OpenAI chat completion (for clients of /v1 talking to an Anthropic host):
 * `chat.completion.chunk` SSE events ending with `data: [DONE]` — the usage chunk before it
 * when the client asked for stream_options.include_usage — or one `chat.completion` body.
 */
export class OpenAIWriter extends Collected implements AnswerWriter {
  readonly contentType: string;
  readonly streamed: boolean;
  private readonly model: string;
  private readonly includeUsage: boolean;
  private readonly created = Math.floor(Date.now() / 1000);
  private readonly fallbackId = `chatcmpl-${randomUUID().replaceAll("-", "")}`;
  private started = false;
  private text = "";

  constructor(opts: { stream: boolean; includeUsage: boolean; model: string; clock: Clock }) {
    super(opts.clock);
    this.streamed = opts.stream;
    this.includeUsage = opts.includeUsage;
    this.model = opts.model;
    this.contentType = opts.stream ? "text/event-stream; charset=utf-8" : "application/json; charset=utf-8";
  }

  piece(p: Piece): string {
    const content = this.take(p);
    if (!this.streamed) {
      if (p.kind === "text") this.text += p.text;
      return "";
    }
    if (p.kind === "finish") return this.first() + event(this.chunk({}, p.reason));
    if (!content || p.kind === "thinking") return "";
    if (p.kind === "text") return this.first() + event(this.chunk({ content: p.text }, null));
    if (p.kind === "tool") {
      const call: Record<string, unknown> = { index: p.index };
      if (p.id !== null) call.id = p.id;
      if (p.id !== null || p.name !== null) call.type = "function";
      call.function = p.name === null ? { arguments: p.args } : { name: p.name, arguments: p.args };
      return this.first() + event(this.chunk({ tool_calls: [call] }, null));
    }
    return "";
  }

  end(): string {
    this.markEnd();
    if (this.streamed) {
      let out = this.first();
      if (this.finish === null) out += event(this.chunk({}, "stop"));
      if (this.includeUsage)
        out += event({ ...this.chunk({}, null), choices: [], usage: this.openaiUsage() });
      return `${out}data: [DONE]\n\n`;
    }
    const calls = this.parsedCalls();
    const message: Record<string, unknown> = {
      role: "assistant",
      content: this.text === "" && calls.length > 0 ? null : this.text,
      refusal: null,
    };
    if (calls.length > 0) {
      message.tool_calls = calls.map((c, i) => ({
        id: c.id ?? `call_${i}`,
        type: "function",
        function: { name: c.name, arguments: JSON.stringify(c.arguments) },
      }));
    }
    return JSON.stringify({
      id: this.id(),
      object: "chat.completion",
      created: this.created,
      model: this.modelName(),
      choices: [{ index: 0, message, logprobs: null, finish_reason: this.finish ?? "stop" }],
      usage: this.openaiUsage(),
    });
  }

  failure(message: string, code: ErrorCode): string {
    return errorEvent(message, code);
  }

  /** The first chunk of an OpenAI stream carries the role. */
  private first(): string {
    if (this.started) return "";
    this.started = true;
    return event(this.chunk({ role: "assistant", content: "" }, null));
  }

  private chunk(delta: Record<string, unknown>, finish: FinishReason | null): Record<string, unknown> {
    return {
      id: this.id(),
      object: "chat.completion.chunk",
      created: this.created,
      model: this.modelName(),
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    };
  }

  private id(): string {
    return this.providerId === "" ? this.fallbackId : `chatcmpl-${this.providerId}`;
  }

  private modelName(): string {
    return this.providerModel === "" ? this.model : this.providerModel;
  }

  private openaiUsage() {
    const p = this.promptTokens ?? 0;
    const c = this.completionTokens ?? 0;
    return { prompt_tokens: p, completion_tokens: c, total_tokens: p + c };
  }
}

function line(obj: unknown): string {
  return `${JSON.stringify(obj)}\n`;
}

function event(obj: unknown): string {
  return `data: ${JSON.stringify(obj)}\n\n`;
}
