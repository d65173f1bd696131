import type { Json } from "../../json.js";
import { type ChatRequest, invalid, requireObject } from "./from-ollama.js";

/** Anthropic requires max_tokens; OpenAI and Ollama let the model stop by itself. Every Claude model allows this many. */
export const DEFAULT_MAX_TOKENS = 4096;

/** The tool Claude is made to call when the client wants JSON: its input is the answer. */
export const JSON_TOOL = "ollama_proxy_json_answer";

/** An Anthropic Messages request, and the name of the forced JSON tool when there is one. */
export interface AnthropicRequest {
  readonly body: Json;
  readonly jsonTool: string | null;
}

/**
 * An OpenAI chat completions request → Anthropic's Messages API: system and developer messages
 * hoisted into `system`, consecutive turns of one role merged (Anthropic wants them
 * alternating), tool calls and results as tool_use / tool_result blocks, image parts as image
 * blocks, max_tokens defaulted. `response_format` has no Anthropic field: it becomes a forced
 * tool whose input schema is the wanted JSON (Anthropic's documented way to get JSON out).
 */
export function anthropicFromOpenAI(req: ChatRequest, model: string): AnthropicRequest {
  const b = req.body;
  if (!Array.isArray(b.messages)) throw invalid("messages must be a list");
  const system: string[] = [];
  const turns: { role: "user" | "assistant"; content: Json[] }[] = [];
  const add = (role: "user" | "assistant", blocks: Json[]) => {
    if (blocks.length === 0) return;
    const last = turns[turns.length - 1];
    if (last !== undefined && last.role === role) last.content.push(...blocks);
    else turns.push({ role, content: blocks });
  };
  for (const [i, m] of b.messages.entries()) {
    const msg = requireObject(m, `messages[${i}]`);
    switch (msg.role) {
      case "system":
      case "developer":
        system.push(plainText(msg.content, `messages[${i}].content`));
        break;
      case "user":
        add("user", contentBlocks(msg.content, `messages[${i}].content`));
        break;
      case "assistant": {
        const blocks =
          msg.content === null || msg.content === undefined
            ? []
            : contentBlocks(msg.content, `messages[${i}].content`);
        if (Array.isArray(msg.tool_calls)) {
          for (const [j, c] of msg.tool_calls.entries()) {
            const call = requireObject(c, `messages[${i}].tool_calls[${j}]`);
            const fn = requireObject(call.function, `messages[${i}].tool_calls[${j}].function`);
            blocks.push({
              type: "tool_use",
              id: typeof call.id === "string" ? call.id : `call_${i}_${j}`,
              name: fn.name,
              input: parseArguments(fn.arguments, `messages[${i}].tool_calls[${j}].function.arguments`),
            });
          }
        }
        add("assistant", blocks);
        break;
      }
      case "tool":
        if (typeof msg.tool_call_id !== "string") throw invalid(`messages[${i}].tool_call_id is required`);
        add("user", [
          {
            type: "tool_result",
            tool_use_id: msg.tool_call_id,
            content: plainText(msg.content, `messages[${i}].content`),
          },
        ]);
        break;
      default:
        throw invalid(`messages[${i}].role must be system, developer, user, assistant or tool`);
    }
  }
  const out: Json = {
    model,
    max_tokens: positive(b.max_completion_tokens) ?? positive(b.max_tokens) ?? DEFAULT_MAX_TOKENS,
    messages: turns.map((t) => ({
      role: t.role,
      // A lone text block is sent as a plain string, the form in Anthropic's own examples.
      content: t.content.length === 1 && t.content[0]!.type === "text" ? t.content[0]!.text : t.content,
    })),
  };
  if (system.length > 0) out.system = system.join("\n\n");
  out.stream = b.stream === true;
  for (const k of ["temperature", "top_p"] as const) if (typeof b[k] === "number") out[k] = b[k];
  if (req.topK !== null) out.top_k = req.topK;
  const stop = typeof b.stop === "string" ? [b.stop] : b.stop;
  if (Array.isArray(stop) && stop.length > 0) out.stop_sequences = stop;

  const tools = Array.isArray(b.tools) ? b.tools.map((t, i) => anthropicTool(t, i)) : [];
  let jsonTool: string | null = null;
  const format = jsonSchema(b.response_format);
  if (format !== null) {
    if (tools.length > 0)
      throw invalid(
        "response_format (or Ollama's format) together with tools is not supported on Anthropic hosts",
      );
    jsonTool = JSON_TOOL;
    tools.push({
      name: JSON_TOOL,
      description: "Give your complete answer as this tool's input.",
      input_schema: format,
    });
    out.tool_choice = { type: "tool", name: JSON_TOOL };
  } else if (tools.length > 0) {
    const choice = toolChoice(b.tool_choice);
    if (choice !== null) out.tool_choice = choice;
    if (b.parallel_tool_calls === false)
      out.tool_choice = { ...(choice ?? { type: "auto" }), disable_parallel_tool_use: true };
  }
  if (tools.length > 0) out.tools = tools;
  return { body: out, jsonTool };
}

function anthropicTool(raw: unknown, i: number): Json {
  const t = requireObject(raw, `tools[${i}]`);
  if (t.type !== "function") throw invalid(`tools[${i}].type must be "function"`);
  const fn = requireObject(t.function, `tools[${i}].function`);
  if (typeof fn.name !== "string" || fn.name === "") throw invalid(`tools[${i}].function.name is required`);
  const tool: Json = { name: fn.name, input_schema: fn.parameters ?? { type: "object", properties: {} } };
  if (typeof fn.description === "string") tool.description = fn.description;
  return tool;
}

function toolChoice(raw: unknown): Json | null {
  if (raw === undefined || raw === null || raw === "auto") return raw === "auto" ? { type: "auto" } : null;
  if (raw === "none") return { type: "none" };
  if (raw === "required") return { type: "any" };
  const o = requireObject(raw, "tool_choice");
  const fn = o.function as Json | undefined;
  if (o.type === "function" && typeof fn?.name === "string") return { type: "tool", name: fn.name };
  throw invalid('tool_choice must be "auto", "none", "required" or {type: "function", function: {name}}');
}

/** The JSON schema a response_format asks for; json_object is any object. */
function jsonSchema(raw: unknown): Json | null {
  if (raw === undefined || raw === null) return null;
  const f = requireObject(raw, "response_format");
  if (f.type === "text") return null;
  if (f.type === "json_object") return { type: "object" };
  if (f.type === "json_schema") {
    const schema = requireObject(
      requireObject(f.json_schema, "response_format.json_schema").schema,
      "response_format.json_schema.schema",
    );
    // A tool's input is always an object: other top-level schemas cannot be asked for this way.
    if (schema.type !== "object")
      throw invalid("on Anthropic hosts a JSON schema answer must be an object (type: object)");
    return schema;
  }
  throw invalid('response_format.type must be "text", "json_object" or "json_schema"');
}

/** OpenAI content (a string or parts) → Anthropic content blocks. */
function contentBlocks(content: unknown, where: string): Json[] {
  if (typeof content === "string") return content === "" ? [] : [{ type: "text", text: content }];
  if (!Array.isArray(content)) throw invalid(`${where} must be a string or a list of parts`);
  const out: Json[] = [];
  for (const [k, p] of content.entries()) {
    const part = requireObject(p, `${where}[${k}]`);
    if (part.type === "text") {
      if (typeof part.text !== "string") throw invalid(`${where}[${k}].text must be a string`);
      if (part.text !== "") out.push({ type: "text", text: part.text });
    } else if (part.type === "image_url") {
      const url = (part.image_url as Json | undefined)?.url;
      if (typeof url !== "string") throw invalid(`${where}[${k}].image_url.url must be a string`);
      out.push(imageBlock(url, `${where}[${k}]`));
    } else {
      throw invalid(
        `${where}[${k}]: parts of type "${String(part.type)}" cannot be sent to an Anthropic host`,
      );
    }
  }
  return out;
}

function imageBlock(url: string, where: string): Json {
  const m = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  if (m !== null) return { type: "image", source: { type: "base64", media_type: m[1], data: m[2] } };
  if (/^https?:\/\//.test(url)) return { type: "image", source: { type: "url", url } };
  throw invalid(`${where}.image_url.url must be a data: URL with base64 or an http(s) URL`);
}

/** System prompts and tool results as plain text (text parts joined). */
function plainText(content: unknown, where: string): string {
  if (content === undefined || content === null) return "";
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) throw invalid(`${where} must be a string or a list of parts`);
  return content
    .map((p, k) => {
      const part = requireObject(p, `${where}[${k}]`);
      if (part.type !== "text" || typeof part.text !== "string")
        throw invalid(`${where}[${k}] must be a text part`);
      return part.text;
    })
    .join("\n");
}

function parseArguments(raw: unknown, where: string): unknown {
  if (raw === undefined || raw === null || raw === "") return {};
  if (typeof raw !== "string") return raw;
  try {
    return JSON.parse(raw);
  } catch {
    throw invalid(`${where} is not valid JSON`);
  }
}

function positive(v: unknown): number | null {
  return typeof v === "number" && Number.isInteger(v) && v > 0 ? v : null;
}
