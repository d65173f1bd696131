import { ProxyError } from "../../errors.js";
import { isObject, type Json } from "../../json.js";

/**
 * Ollama's native requests (/api/chat, /api/generate, /api/embed, /api/embeddings) rewritten
 * as OpenAI requests — the form every external host is reached from (Anthropic requests are
 * made from this one in turn; see to-anthropic.ts).
 */

/** An OpenAI chat completions request, plus what OpenAI has no field for but Anthropic has. */
export interface ChatRequest {
  readonly body: Json;
  /** Ollama's options.top_k: Anthropic takes it, OpenAI refuses unknown fields, so it travels apart. */
  readonly topK: number | null;
}

/** A request that Ollama answers without running the model: empty prompt or no messages (it loads the model). */
export const LOAD_ONLY = Symbol("load-only");

/** /api/chat or /api/generate → /v1/chat/completions; LOAD_ONLY when there is nothing to generate. */
export function chatFromOllama(
  path: "/api/chat" | "/api/generate",
  body: Json,
  model: string,
): ChatRequest | typeof LOAD_ONLY {
  const messages = path === "/api/chat" ? chatMessages(body.messages) : generateMessages(body);
  if (messages.length === 0) return LOAD_ONLY;
  const stream = body.stream !== false;
  const out: Json = { model, messages, stream };
  if (stream) out.stream_options = { include_usage: true };
  const options =
    body.options === undefined || body.options === null ? {} : requireObject(body.options, "options");
  copyNumber(options, "temperature", out, "temperature");
  copyNumber(options, "top_p", out, "top_p");
  copyNumber(options, "seed", out, "seed");
  copyNumber(options, "frequency_penalty", out, "frequency_penalty");
  copyNumber(options, "presence_penalty", out, "presence_penalty");
  // num_predict -1 (or -2) means "until the model stops": the provider's own default.
  const numPredict = options.num_predict;
  if (numPredict !== undefined) {
    if (typeof numPredict !== "number" || !Number.isInteger(numPredict))
      throw invalid("options.num_predict must be an integer");
    if (numPredict > 0) out.max_tokens = numPredict;
  }
  if (options.stop !== undefined) {
    const stop = typeof options.stop === "string" ? [options.stop] : options.stop;
    if (!Array.isArray(stop) || !stop.every((s) => typeof s === "string"))
      throw invalid("options.stop must be a list of strings");
    if (stop.length > 0) out.stop = stop;
  }
  const format = responseFormat(body.format);
  if (format !== null) out.response_format = format;
  if (path === "/api/chat" && body.tools !== undefined && body.tools !== null) {
    if (!Array.isArray(body.tools)) throw invalid("tools must be a list");
    // Ollama's tools already have OpenAI's shape: {type: "function", function: {name, description, parameters}}.
    const tools = body.tools.map((t, i) => {
      const tool = requireObject(t, `tools[${i}]`);
      const fn = requireObject(tool.function, `tools[${i}].function`);
      if (typeof fn.name !== "string" || fn.name === "")
        throw invalid(`tools[${i}].function.name is required`);
      return { type: "function", function: fn };
    });
    if (tools.length > 0) out.tools = tools;
  }
  const topK = options.top_k;
  if (topK !== undefined && typeof topK !== "number") throw invalid("options.top_k must be a number");
  return { body: out, topK: typeof topK === "number" ? topK : null };
}

/** /api/embed ({input: string | string[]}) or the older /api/embeddings ({prompt}) → /v1/embeddings. */
export function embeddingsFromOllama(
  path: "/api/embed" | "/api/embeddings",
  body: Json,
  model: string,
): Json {
  let input: unknown;
  if (path === "/api/embeddings") {
    if (typeof body.prompt !== "string") throw invalid("prompt must be a string");
    input = body.prompt;
  } else {
    input = body.input;
    const ok =
      typeof input === "string" || (Array.isArray(input) && input.every((s) => typeof s === "string"));
    if (!ok) throw invalid("input must be a string or a list of strings");
  }
  const out: Json = { model, input, encoding_format: "float" };
  if (typeof body.dimensions === "number") out.dimensions = body.dimensions;
  return out;
}

function chatMessages(raw: unknown): Json[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw invalid("messages must be a list");
  const out: Json[] = [];
  // OpenAI pairs each tool result with the call it answers by id; Ollama by order and tool_name.
  let pending: { id: string; name: string }[] = [];
  for (const [i, m] of raw.entries()) {
    const msg = requireObject(m, `messages[${i}]`);
    const role = msg.role;
    const content = msg.content ?? "";
    if (typeof content !== "string") throw invalid(`messages[${i}].content must be a string`);
    switch (role) {
      case "system":
        out.push({ role: "system", content });
        break;
      case "user":
        out.push({ role: "user", content: withImages(content, msg.images, `messages[${i}]`) });
        break;
      case "assistant": {
        const calls = toolCalls(msg.tool_calls, i);
        pending = calls.map((c) => ({ id: c.id as string, name: (c.function as Json).name as string }));
        const a: Json = { role: "assistant", content: content === "" && calls.length > 0 ? null : content };
        if (calls.length > 0) a.tool_calls = calls;
        out.push(a);
        break;
      }
      case "tool": {
        const given = typeof msg.tool_call_id === "string" ? msg.tool_call_id : null;
        const name = typeof msg.tool_name === "string" ? msg.tool_name : null;
        const at =
          given !== null
            ? pending.findIndex((p) => p.id === given)
            : pending.findIndex((p) => p.name === name);
        const match = pending[at === -1 ? 0 : at];
        if (match !== undefined) pending = pending.filter((p) => p !== match);
        const id = given ?? match?.id;
        if (id === undefined)
          throw invalid(`messages[${i}]: a tool message must follow an assistant message with tool_calls`);
        out.push({ role: "tool", tool_call_id: id, content });
        break;
      }
      default:
        throw invalid(`messages[${i}].role must be system, user, assistant or tool`);
    }
  }
  return out;
}

function toolCalls(raw: unknown, at: number): Json[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw invalid(`messages[${at}].tool_calls must be a list`);
  return raw.map((c, j) => {
    const call = requireObject(c, `messages[${at}].tool_calls[${j}]`);
    const fn = requireObject(call.function, `messages[${at}].tool_calls[${j}].function`);
    if (typeof fn.name !== "string")
      throw invalid(`messages[${at}].tool_calls[${j}].function.name is required`);
    const args = fn.arguments ?? {};
    return {
      // Ollama's calls have no id unless one came from us; one made from the position is stable across turns.
      id: typeof call.id === "string" && call.id !== "" ? call.id : `call_${at}_${j}`,
      type: "function",
      function: { name: fn.name, arguments: typeof args === "string" ? args : JSON.stringify(args) },
    };
  });
}

function generateMessages(body: Json): Json[] {
  const prompt = body.prompt ?? "";
  if (typeof prompt !== "string") throw invalid("prompt must be a string");
  if (body.system !== undefined && typeof body.system !== "string") throw invalid("system must be a string");
  if (prompt === "") return [];
  const out: Json[] = [];
  if (typeof body.system === "string" && body.system !== "")
    out.push({ role: "system", content: body.system });
  out.push({ role: "user", content: withImages(prompt, body.images, "request") });
  return out;
}

/** Ollama sends images as bare base64 beside the text; OpenAI wants image parts with data URLs. */
function withImages(text: string, images: unknown, where: string): string | Json[] {
  if (images === undefined || images === null) return text;
  if (!Array.isArray(images) || !images.every((s) => typeof s === "string"))
    throw invalid(`${where}.images must be a list of base64 strings`);
  if (images.length === 0) return text;
  const parts: Json[] = [];
  if (text !== "") parts.push({ type: "text", text });
  for (const img of images as string[]) {
    parts.push({ type: "image_url", image_url: { url: `data:${imageType(img)};base64,${img}` } });
  }
  return parts;
}

/** The media type of a base64 image, from its first bytes (Ollama does not send one). */
function imageType(base64: string): string {
  if (base64.startsWith("iVBORw0KGgo")) return "image/png";
  if (base64.startsWith("/9j/")) return "image/jpeg";
  if (base64.startsWith("R0lGOD")) return "image/gif";
  if (base64.startsWith("UklGR")) return "image/webp";
  return "image/jpeg";
}

/** Ollama's `format`: "json", or a JSON schema → OpenAI's response_format. */
function responseFormat(format: unknown): Json | null {
  if (format === undefined || format === null || format === "") return null;
  if (format === "json") return { type: "json_object" };
  if (typeof format === "object" && !Array.isArray(format)) {
    return { type: "json_schema", json_schema: { name: "response", schema: format } };
  }
  throw invalid('format must be "json" or a JSON schema object');
}

function copyNumber(from: Json, key: string, to: Json, as: string): void {
  const v = from[key];
  if (v === undefined || v === null) return;
  if (typeof v !== "number") throw invalid(`options.${key} must be a number`);
  to[as] = v;
}

/** `v` as a JSON object, or a 400 saying that `what` must be one. */
export function requireObject(v: unknown, what: string): Json {
  if (!isObject(v)) throw invalid(`${what} must be an object`);
  return v;
}

/** A 400 for a request the translation cannot make sense of. */
export function invalid(message: string): ProxyError {
  return new ProxyError("bad_request", `invalid request: ${message}`);
}
