import type { ErrorCode } from "../../errors.js";
import { errorLine } from "../../http/respond.js";
import type { Piece } from "./pieces.js";
import { type AnswerWriter, type Clock, Collected, ollamaDoneReason } from "./writers.js";

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

function line(obj: unknown): string {
  return `${JSON.stringify(obj)}\n`;
}
