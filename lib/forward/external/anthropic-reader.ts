import { asObject, type Json } from "../../json.js";
import { type FinishReason, num, type Piece, str } from "./pieces.js";

/** Anthropic's stop_reason in our vocabulary. */
function anthropicFinish(v: unknown): FinishReason {
  switch (v) {
    case "max_tokens":
      return "length";
    case "tool_use":
      return "tool_calls";
    case "refusal":
      return "content_filter";
    default:
      return "stop"; // end_turn, stop_sequence, pause_turn
  }
}

/**
 * Reads an Anthropic Messages answer, streamed event by event or whole. `jsonTool` names the
 * tool the proxy forced to get JSON out of Claude (Ollama's `format`, OpenAI's
 * `response_format`): that tool's input is the answer's text, not a tool call.
 */
export class AnthropicReader {
  private readonly jsonTool: string | null;
  /** Content block index → what it is: text, thinking, the JSON answer, or the n-th tool call. */
  private readonly blocks = new Map<
    number,
    { kind: "text" | "thinking" | "json" | "other" } | { kind: "tool"; n: number }
  >();
  private tools = 0;
  private promptTokens: number | null = null;
  private usedJsonTool = false;

  constructor(jsonTool: string | null) {
    this.jsonTool = jsonTool;
  }

  /** Pieces of one SSE event (its `data` parsed). */
  event(json: Json): Piece[] {
    switch (json.type) {
      case "message_start": {
        const m = asObject(json.message) ?? {};
        this.promptTokens = inputTokens(asObject(m.usage));
        return [{ kind: "meta", id: str(m.id) ?? "", model: str(m.model) ?? "" }];
      }
      case "content_block_start":
        return this.startBlock(num(json.index) ?? 0, asObject(json.content_block) ?? {});
      case "content_block_delta": {
        const block = this.blocks.get(num(json.index) ?? 0);
        const delta = asObject(json.delta) ?? {};
        if (block === undefined) return [];
        if (delta.type === "text_delta" && block.kind === "text") {
          const text = str(delta.text);
          return text ? [{ kind: "text", text }] : [];
        }
        if (delta.type === "thinking_delta" && block.kind === "thinking") {
          const text = str(delta.thinking);
          return text ? [{ kind: "thinking", text }] : [];
        }
        if (delta.type === "input_json_delta") {
          const part = str(delta.partial_json) ?? "";
          if (part === "") return [];
          if (block.kind === "json") return [{ kind: "text", text: part }];
          if (block.kind === "tool")
            return [{ kind: "tool", index: block.n, id: null, name: null, args: part }];
        }
        return [];
      }
      case "message_delta": {
        const delta = asObject(json.delta) ?? {};
        const usage = asObject(json.usage);
        const out: Piece[] = [];
        if (delta.stop_reason !== undefined && delta.stop_reason !== null)
          out.push(this.finish(delta.stop_reason));
        if (usage !== null) {
          out.push({
            kind: "usage",
            promptTokens: inputTokens(usage) ?? this.promptTokens,
            completionTokens: num(usage.output_tokens),
          });
        }
        return out;
      }
      case "error": {
        const e = asObject(json.error) ?? {};
        return [{ kind: "error", message: str(e.message) ?? "error", type: str(e.type) ?? "api_error" }];
      }
      default:
        return []; // ping, content_block_stop, message_stop, and event types added later
    }
  }

  /** Pieces of a whole Message (stream: false). */
  message(json: Json): Piece[] {
    if (json.type === "error") return this.event(json);
    const out: Piece[] = [{ kind: "meta", id: str(json.id) ?? "", model: str(json.model) ?? "" }];
    const content = Array.isArray(json.content) ? json.content : [];
    for (const [i, raw] of content.entries()) {
      const block = asObject(raw) ?? {};
      out.push(...this.startBlock(i, block));
      if (block.type === "tool_use") {
        const input = JSON.stringify(block.input ?? {});
        const b = this.blocks.get(i);
        if (b?.kind === "json") out.push({ kind: "text", text: input });
        else if (b?.kind === "tool")
          out.push({ kind: "tool", index: b.n, id: null, name: null, args: input });
      }
    }
    out.push(this.finish(json.stop_reason));
    const usage = asObject(json.usage);
    if (usage !== null)
      out.push({
        kind: "usage",
        promptTokens: inputTokens(usage),
        completionTokens: num(usage.output_tokens),
      });
    return out;
  }

  private startBlock(index: number, block: Json): Piece[] {
    switch (block.type) {
      case "text": {
        this.blocks.set(index, { kind: "text" });
        const text = str(block.text);
        return text ? [{ kind: "text", text }] : [];
      }
      case "thinking": {
        this.blocks.set(index, { kind: "thinking" });
        const text = str(block.thinking);
        return text ? [{ kind: "thinking", text }] : [];
      }
      case "tool_use": {
        if (this.jsonTool !== null && block.name === this.jsonTool) {
          this.usedJsonTool = true;
          this.blocks.set(index, { kind: "json" });
          return [];
        }
        const n = this.tools++;
        this.blocks.set(index, { kind: "tool", n });
        return [{ kind: "tool", index: n, id: str(block.id), name: str(block.name), args: "" }];
      }
      default:
        this.blocks.set(index, { kind: "other" });
        return [];
    }
  }

  private finish(reason: unknown): Piece {
    // The forced JSON tool ends Claude's turn with tool_use; to the client it is a plain answer.
    if (reason === "tool_use" && this.usedJsonTool && this.tools === 0)
      return { kind: "finish", reason: "stop" };
    return { kind: "finish", reason: anthropicFinish(reason) };
  }
}

/** Anthropic counts cached prompt tokens apart; the client's prompt size is their sum. */
export function inputTokens(usage: Json | null): number | null {
  if (usage === null) return null;
  const base = num(usage.input_tokens);
  if (base === null) return null;
  return base + (num(usage.cache_creation_input_tokens) ?? 0) + (num(usage.cache_read_input_tokens) ?? 0);
}
