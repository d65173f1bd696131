import { asObject, type Json } from "../../json.js";

/**
 * The neutral form of an answer, between a provider's wire format and the client's. Every
 * provider answer (streamed or whole, OpenAI or Anthropic) is read into pieces; every client
 * answer (Ollama NDJSON or JSON, OpenAI SSE or JSON) is written from them. That keeps the
 * translators at 2 readers + 2 writers instead of one per dialect × provider pair.
 */
export type Piece =
  | { readonly kind: "meta"; readonly id: string; readonly model: string }
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "thinking"; readonly text: string }
  /** A fragment of tool call `index`: `id` and `name` come with its first fragment, `args` is JSON text to append. */
  | {
      readonly kind: "tool";
      readonly index: number;
      readonly id: string | null;
      readonly name: string | null;
      readonly args: string;
    }
  | { readonly kind: "finish"; readonly reason: FinishReason }
  | { readonly kind: "usage"; readonly promptTokens: number | null; readonly completionTokens: number | null }
  /** The provider reported a failure in the body (an SSE error event, an error line). */
  | { readonly kind: "error"; readonly message: string; readonly type: string };

/** OpenAI's finish_reason vocabulary, which the writers map on to Ollama's done_reason. */
export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter";

export function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

export function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

/** OpenAI's finish_reason (and the legacy function_call) in our vocabulary; null while the answer goes on. */
function openaiFinish(v: unknown): FinishReason | null {
  switch (v) {
    case null:
    case undefined:
      return null;
    case "length":
      return "length";
    case "tool_calls":
    case "function_call":
      return "tool_calls";
    case "content_filter":
      return "content_filter";
    default:
      return "stop";
  }
}

function openaiUsage(u: unknown): Piece | null {
  const o = asObject(u);
  if (o === null) return null;
  return { kind: "usage", promptTokens: num(o.prompt_tokens), completionTokens: num(o.completion_tokens) };
}

/** The error object of an OpenAI-style body or stream line, if it is one. */
function openaiErrorPiece(json: Json): Piece | null {
  const e = json.error;
  if (e === undefined || e === null) return null;
  const o = asObject(e);
  const message = o === null ? String(e) : (str(o.message) ?? JSON.stringify(o));
  return { kind: "error", message, type: (o && str(o.type)) ?? "server_error" };
}

/** Pieces of one `chat.completion.chunk` (one SSE data line of a streamed OpenAI answer). */
export function fromOpenAIChunk(json: Json): Piece[] {
  const err = openaiErrorPiece(json);
  if (err !== null) return [err];
  const out: Piece[] = [];
  const choice = asObject(Array.isArray(json.choices) ? json.choices[0] : null);
  if (choice !== null) {
    const delta = asObject(choice.delta) ?? {};
    // DeepSeek, vLLM and OpenRouter stream reasoning beside the answer under these names.
    const thinking = str(delta.reasoning_content) ?? str(delta.reasoning);
    if (thinking) out.push({ kind: "thinking", text: thinking });
    const content = str(delta.content);
    if (content) out.push({ kind: "text", text: content });
    if (Array.isArray(delta.tool_calls)) {
      for (const [i, raw] of delta.tool_calls.entries()) {
        const call = asObject(raw);
        if (call === null) continue;
        const fn = asObject(call.function) ?? {};
        out.push({
          kind: "tool",
          index: num(call.index) ?? i,
          id: str(call.id),
          name: str(fn.name),
          args: str(fn.arguments) ?? "",
        });
      }
    }
    const finish = openaiFinish(choice.finish_reason);
    if (finish !== null) out.push({ kind: "finish", reason: finish });
  }
  const usage = openaiUsage(json.usage);
  if (usage !== null) out.push(usage);
  return out;
}

/** Pieces of a whole `chat.completion` (an OpenAI answer with stream: false). */
export function fromOpenAICompletion(json: Json): Piece[] {
  const err = openaiErrorPiece(json);
  if (err !== null) return [err];
  const out: Piece[] = [{ kind: "meta", id: str(json.id) ?? "", model: str(json.model) ?? "" }];
  const choice = asObject(Array.isArray(json.choices) ? json.choices[0] : null);
  const message = asObject(choice?.message) ?? {};
  const thinking = str(message.reasoning_content) ?? str(message.reasoning);
  if (thinking) out.push({ kind: "thinking", text: thinking });
  const content = str(message.content);
  if (content) out.push({ kind: "text", text: content });
  if (Array.isArray(message.tool_calls)) {
    for (const [i, raw] of message.tool_calls.entries()) {
      const call = asObject(raw) ?? {};
      const fn = asObject(call.function) ?? {};
      out.push({
        kind: "tool",
        index: i,
        id: str(call.id),
        name: str(fn.name),
        args: str(fn.arguments) ?? "",
      });
    }
  }
  out.push({ kind: "finish", reason: openaiFinish(choice?.finish_reason) ?? "stop" });
  const usage = openaiUsage(json.usage);
  if (usage !== null) out.push(usage);
  return out;
}
