import { randomBytes } from "node:crypto";
import type { ErrorCode } from "../../errors.js";
import { errorEvent } from "../../http/respond.js";
import type { FinishReason, Piece } from "./pieces.js";
import { type AnswerWriter, type Clock, Collected } from "./writers.js";

/** The content block being streamed: its index in the message, and what it holds. */
type OpenBlock = { readonly index: number; readonly kind: "text" | "thinking" | "tool" };

/**
 * Writes an Anthropic Messages answer (for clients of /v1/messages — Claude Code, the
 * Anthropic SDKs — talking to an OpenAI-style host), in the shape Ollama's own /v1/messages
 * sends: SSE events message_start, content_block_start / content_block_delta (text_delta,
 * thinking_delta, input_json_delta) / content_block_stop per block, then message_delta with
 * the stop reason and the token counts, and message_stop; or one `message` body.
 */
export class AnthropicWriter extends Collected implements AnswerWriter {
  readonly contentType: string;
  readonly streamed: boolean;
  private readonly model: string;
  private readonly id = `msg_${randomBytes(12).toString("hex")}`;
  private started = false;
  private open: OpenBlock | null = null;
  private blocks = 0;
  /** Tool call index (as the provider numbers them) → its content block index. */
  private readonly toolBlocks = new Map<number, number>();
  private text = "";
  private thinking = "";

  constructor(opts: { stream: boolean; model: string; clock: Clock }) {
    super(opts.clock);
    this.streamed = opts.stream;
    this.model = opts.model;
    this.contentType = opts.stream ? "text/event-stream; charset=utf-8" : "application/json; charset=utf-8";
  }

  piece(p: Piece): string {
    this.take(p);
    if (!this.streamed) {
      if (p.kind === "text") this.text += p.text;
      else if (p.kind === "thinking") this.thinking += p.text;
      return "";
    }
    switch (p.kind) {
      case "text":
        return this.start() + this.into("text") + this.delta({ type: "text_delta", text: p.text });
      case "thinking":
        return (
          this.start() + this.into("thinking") + this.delta({ type: "thinking_delta", thinking: p.text })
        );
      case "tool":
        return this.start() + this.tool(p);
      default:
        return ""; // meta, usage and finish are told by message_delta at the end
    }
  }

  end(): string {
    this.markEnd();
    const usage = { input_tokens: this.promptTokens ?? 0, output_tokens: this.completionTokens ?? 0 };
    if (this.streamed) {
      return (
        this.start() +
        this.close() +
        event("message_delta", {
          type: "message_delta",
          delta: { stop_reason: this.stopReason(), stop_sequence: null },
          usage,
        }) +
        event("message_stop", { type: "message_stop" })
      );
    }
    const content: Record<string, unknown>[] = [];
    if (this.thinking !== "") content.push({ type: "thinking", thinking: this.thinking });
    if (this.text !== "") content.push({ type: "text", text: this.text });
    for (const c of this.parsedCalls())
      content.push({ type: "tool_use", id: c.id ?? toolId(), name: c.name, input: c.arguments });
    return JSON.stringify({
      id: this.id,
      type: "message",
      role: "assistant",
      model: this.model,
      content,
      stop_reason: this.stopReason(),
      stop_sequence: null,
      usage,
    });
  }

  failure(message: string, code: ErrorCode): string {
    return errorEvent(message, code, "anthropic");
  }

  /** message_start, once, before anything else (the input tokens are not known yet: they come with message_delta). */
  private start(): string {
    if (this.started) return "";
    this.started = true;
    return event("message_start", {
      type: "message_start",
      message: {
        id: this.id,
        type: "message",
        role: "assistant",
        model: this.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: this.promptTokens ?? 0, output_tokens: 0 },
      },
    });
  }

  /** Makes the open block one of `kind`: the one already open, or a new one after closing it. */
  private into(kind: "text" | "thinking"): string {
    if (this.open?.kind === kind) return "";
    const closed = this.close();
    const index = this.blocks++;
    this.open = { index, kind };
    const block = kind === "text" ? { type: "text", text: "" } : { type: "thinking", thinking: "" };
    return (
      closed + event("content_block_start", { type: "content_block_start", index, content_block: block })
    );
  }

  /**
   * A fragment of a tool call: its first one opens a tool_use block, its argument text goes as
   * input_json_delta. A fragment for a call whose block is already closed (a provider that
   * interleaves calls) still names that block's index, which is how clients assemble them.
   */
  private tool(p: Extract<Piece, { kind: "tool" }>): string {
    let out = "";
    let index = this.toolBlocks.get(p.index);
    if (index === undefined) {
      out += this.close();
      index = this.blocks++;
      this.toolBlocks.set(p.index, index);
      this.open = { index, kind: "tool" };
      const block = { type: "tool_use", id: p.id ?? toolId(), name: p.name ?? "", input: {} };
      out += event("content_block_start", { type: "content_block_start", index, content_block: block });
    }
    if (p.args !== "") {
      out += event("content_block_delta", {
        type: "content_block_delta",
        index,
        delta: { type: "input_json_delta", partial_json: p.args },
      });
    }
    return out;
  }

  private delta(delta: Record<string, unknown>): string {
    return event("content_block_delta", { type: "content_block_delta", index: this.open!.index, delta });
  }

  private close(): string {
    if (this.open === null) return "";
    const { index } = this.open;
    this.open = null;
    return event("content_block_stop", { type: "content_block_stop", index });
  }

  /** Anthropic's stop_reason; a turn that called tools ends with tool_use whatever the provider said (as Ollama does). */
  private stopReason(): string {
    if (this.tools.size > 0 && this.finish !== "length") return "tool_use";
    return anthropicStop(this.finish ?? "stop");
  }
}

function anthropicStop(f: FinishReason): string {
  switch (f) {
    case "length":
      return "max_tokens";
    case "tool_calls":
      return "tool_use";
    case "content_filter":
      return "refusal";
    case "stop":
      return "end_turn";
  }
}

function toolId(): string {
  return `toolu_${randomBytes(12).toString("hex")}`;
}

/** One SSE event as Anthropic (and Ollama) frame them: its type as `event:`, the JSON as `data:`. */
function event(type: string, data: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}
