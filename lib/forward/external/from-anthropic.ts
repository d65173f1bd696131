import { isObject, type Json } from "../../json.js";
import { invalid, requireObject } from "./from-ollama.js";

/**
 * An Anthropic Messages request (/v1/messages: Claude Code, the Anthropic SDKs) → an OpenAI
 * chat completions request, for a model on an OpenAI-style host. `system` becomes the first
 * message; text and image blocks become content parts; an assistant's tool_use blocks become
 * its tool_calls and the tool_result blocks answering them become `tool` messages (OpenAI wants
 * them right after the call, where Anthropic puts them: first in the next user turn); tools and
 * tool_choice map one to one. Thinking blocks of earlier turns are left out (OpenAI has no field
 * for them); `top_k`, `metadata` and `thinking` have no OpenAI field and are dropped, as Ollama
 * accepts and ignores what it cannot use. The checks are Ollama's own (anthropic middleware).
 */
export function openaiFromAnthropic(body: Json, model: string): Json {
  const maxTokens = body.max_tokens;
  if (typeof maxTokens !== "number" || !Number.isInteger(maxTokens) || maxTokens <= 0)
    throw invalid("max_tokens is required and must be positive");
  if (!Array.isArray(body.messages) || body.messages.length === 0) throw invalid("messages is required");
  const messages: Json[] = [];
  const system = systemText(body.system);
  if (system !== "") messages.push({ role: "system", content: system });
  for (const [i, raw] of body.messages.entries()) {
    const m = requireObject(raw, `messages[${i}]`);
    if (m.role === "user") messages.push(...userTurn(m.content, `messages[${i}].content`));
    else if (m.role === "assistant") messages.push(assistantTurn(m.content, `messages[${i}].content`));
    else throw invalid(`messages[${i}].role must be "user" or "assistant"`);
  }
  const stream = body.stream === true;
  const out: Json = { model, messages, max_tokens: maxTokens, stream };
  // The request log needs the token counts; OpenAI sends them in a stream only when asked.
  if (stream) out.stream_options = { include_usage: true };
  for (const k of ["temperature", "top_p"] as const) {
    if (body[k] === undefined || body[k] === null) continue;
    if (typeof body[k] !== "number") throw invalid(`${k} must be a number`);
    out[k] = body[k];
  }
  if (body.stop_sequences !== undefined && body.stop_sequences !== null) {
    const stop = body.stop_sequences;
    if (!Array.isArray(stop) || !stop.every((s) => typeof s === "string"))
      throw invalid("stop_sequences must be a list of strings");
    if (stop.length > 0) out.stop = stop;
  }
  const tools = Array.isArray(body.tools) ? body.tools.map((t, i) => openaiTool(t, i)) : [];
  if (body.tools !== undefined && body.tools !== null && !Array.isArray(body.tools))
    throw invalid("tools must be a list");
  if (tools.length > 0) {
    out.tools = tools;
    const choice =
      body.tool_choice === undefined || body.tool_choice === null ? null : toolChoice(body.tool_choice);
    if (choice !== null) out.tool_choice = choice.choice;
    if (choice?.parallel === false) out.parallel_tool_calls = false;
  }
  return out;
}

/** Anthropic's `system`: a string or a list of text blocks (cache_control and the like ignored). */
function systemText(system: unknown): string {
  if (system === undefined || system === null) return "";
  if (typeof system === "string") return system;
  if (!Array.isArray(system)) throw invalid("system must be a string or a list of text blocks");
  return system
    .map((b, i) => {
      const block = requireObject(b, `system[${i}]`);
      if (block.type !== "text" || typeof block.text !== "string")
        throw invalid(`system[${i}] must be a text block`);
      return block.text;
    })
    .join("\n\n");
}

/** Content as a list of blocks (a string is one text block). */
function blocks(content: unknown, where: string): Json[] {
  if (typeof content === "string") return content === "" ? [] : [{ type: "text", text: content }];
  if (!Array.isArray(content)) throw invalid(`${where} must be a string or a list of content blocks`);
  return content.map((b, k) => requireObject(b, `${where}[${k}]`));
}

/** A user turn: its tool results as `tool` messages first, then the rest as one user message. */
function userTurn(content: unknown, where: string): Json[] {
  const out: Json[] = [];
  const parts: Json[] = [];
  for (const [k, b] of blocks(content, where).entries()) {
    const at = `${where}[${k}]`;
    switch (b.type) {
      case "text":
        if (typeof b.text !== "string") throw invalid(`${at}.text must be a string`);
        if (b.text !== "") parts.push({ type: "text", text: b.text });
        break;
      case "image":
        parts.push({ type: "image_url", image_url: { url: imageUrl(b.source, `${at}.source`) } });
        break;
      case "tool_result":
        if (typeof b.tool_use_id !== "string") throw invalid(`${at}.tool_use_id must be a string`);
        out.push({ role: "tool", tool_call_id: b.tool_use_id, content: resultText(b, at) });
        break;
      default:
        throw invalid(
          `${at}: content blocks of type "${String(b.type)}" cannot be sent to an OpenAI-style host`,
        );
    }
  }
  if (parts.length > 0 || out.length === 0) {
    // A lone text part goes as a plain string, the form every OpenAI-compatible server takes.
    const only =
      parts.length === 0 ? "" : parts.length === 1 && parts[0]!.type === "text" ? parts[0]!.text : parts;
    out.push({ role: "user", content: only });
  }
  return out;
}

/** An assistant turn: its text, and its tool_use blocks as tool_calls. */
function assistantTurn(content: unknown, where: string): Json {
  let text = "";
  const calls: Json[] = [];
  for (const [k, b] of blocks(content, where).entries()) {
    const at = `${where}[${k}]`;
    switch (b.type) {
      case "text":
        if (typeof b.text !== "string") throw invalid(`${at}.text must be a string`);
        text += b.text;
        break;
      case "tool_use":
        if (typeof b.id !== "string" || typeof b.name !== "string")
          throw invalid(`${at}: a tool_use block needs an id and a name`);
        calls.push({
          id: b.id,
          type: "function",
          function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) },
        });
        break;
      case "thinking":
      case "redacted_thinking":
        break; // earlier reasoning: no OpenAI field takes it back
      default:
        throw invalid(
          `${at}: content blocks of type "${String(b.type)}" cannot be sent to an OpenAI-style host`,
        );
    }
  }
  const out: Json = { role: "assistant", content: text === "" && calls.length > 0 ? null : text };
  if (calls.length > 0) out.tool_calls = calls;
  return out;
}

/** A tool_result's content as text (a string, or text blocks); is_error is said in words. */
function resultText(block: Json, at: string): string {
  const c = block.content;
  let text: string;
  if (c === undefined || c === null) text = "";
  else if (typeof c === "string") text = c;
  else if (Array.isArray(c)) {
    text = c
      .map((p, k) => {
        const part = requireObject(p, `${at}.content[${k}]`);
        if (part.type !== "text" || typeof part.text !== "string")
          throw invalid(`${at}.content[${k}]: only text can be a tool result on an OpenAI-style host`);
        return part.text;
      })
      .join("\n");
  } else throw invalid(`${at}.content must be a string or a list of text blocks`);
  return block.is_error === true ? `Error: ${text}` : text;
}

/** An image block's source as the URL OpenAI takes: a data: URL for base64, the URL itself for a url source. */
function imageUrl(raw: unknown, where: string): string {
  const source = requireObject(raw, where);
  if (source.type === "base64") {
    if (typeof source.media_type !== "string" || typeof source.data !== "string")
      throw invalid(`${where}: a base64 image needs media_type and data`);
    return `data:${source.media_type};base64,${source.data}`;
  }
  if (source.type === "url" && typeof source.url === "string") return source.url;
  throw invalid(`${where}.type must be "base64" or "url"`);
}

/** A client tool → an OpenAI function. Anthropic's own tools (web search, bash, text editor) run at Anthropic only. */
function openaiTool(raw: unknown, i: number): Json {
  const t = requireObject(raw, `tools[${i}]`);
  if (t.type !== undefined && t.type !== null && t.type !== "custom")
    throw invalid(
      `tools[${i}]: Anthropic's built-in tool "${String(t.type)}" cannot be used with an OpenAI-style host`,
    );
  if (typeof t.name !== "string" || t.name === "") throw invalid(`tools[${i}].name is required`);
  const fn: Json = {
    name: t.name,
    parameters: isObject(t.input_schema) ? t.input_schema : { type: "object" },
  };
  if (typeof t.description === "string") fn.description = t.description;
  return { type: "function", function: fn };
}

/** Anthropic's tool_choice → OpenAI's, and whether parallel calls are off. */
function toolChoice(raw: unknown): { choice: unknown; parallel: boolean } {
  const c = requireObject(raw, "tool_choice");
  const parallel = c.disable_parallel_tool_use !== true;
  switch (c.type) {
    case "auto":
      return { choice: "auto", parallel };
    case "any":
      return { choice: "required", parallel };
    case "none":
      return { choice: "none", parallel };
    case "tool":
      if (typeof c.name !== "string") throw invalid("tool_choice.name is required with type tool");
      return { choice: { type: "function", function: { name: c.name } }, parallel };
    default:
      throw invalid('tool_choice.type must be "auto", "any", "tool" or "none"');
  }
}
