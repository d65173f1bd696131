import { randomUUID } from "node:crypto";
import type { ErrorCode } from "../../errors.js";
import { errorEvent } from "../../http/respond.js";
import type { FinishReason, Piece } from "./pieces.js";
import { type AnswerWriter, type Clock, Collected } from "./writers.js";

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

function event(obj: unknown): string {
  return `data: ${JSON.stringify(obj)}\n\n`;
}
