import type { ExternalHostConfig } from "../../config/types.js";
import { ProxyError } from "../../errors.js";
import { asObject, type Json } from "../../json.js";
import { AnthropicWriter } from "./anthropic-writer.js";
import { openaiFromAnthropic } from "./from-anthropic.js";
import { chatFromOllama, embeddingsFromOllama, LOAD_ONLY } from "./from-ollama.js";
import { OllamaWriter } from "./ollama-writer.js";
import { OpenAIWriter } from "./openai-writer.js";
import { anthropicFromOpenAI } from "./to-anthropic.js";
import type { AnswerWriter, Clock } from "./writers.js";

/** What a request becomes: a call to the provider and a way to answer, or an answer made at the proxy. */
export type Plan =
  | { kind: "local"; status: number; body: Json; ndjson: boolean }
  | {
      kind: "translate";
      path: string;
      body: Json;
      stream: boolean;
      reader: "openai" | "anthropic";
      jsonTool: string | null;
      writer: (clock: Clock) => AnswerWriter;
    }
  | { kind: "embed"; body: Json; legacy: boolean }
  | { kind: "pass"; path: string; body: Json; stream: boolean; dropUsage: boolean };

/** Decides what a request for an external model becomes, from the path and the host's kind. */
export function makePlan(
  path: string,
  body: Json,
  providerModel: string,
  clientModel: string,
  host: ExternalHostConfig,
  startedAt: string,
): Plan {
  const anthropic = host.type === "anthropic";
  const unsupported = (what: string) =>
    new ProxyError(
      "bad_request",
      `${what} is not available for "${clientModel}": ${host.key} is an Anthropic host`,
    );
  switch (path) {
    case "/api/chat":
    case "/api/generate": {
      const chat = path === "/api/chat";
      const req = chatFromOllama(path, body, providerModel);
      if (req === LOAD_ONLY) {
        // Ollama loads (with keep_alive 0: unloads) the model and answers at once; a hosted model has nothing to load.
        const created_at = new Date().toISOString();
        const done_reason = body.keep_alive === 0 || body.keep_alive === "0" ? "unload" : "load";
        const answer = chat
          ? {
              model: clientModel,
              created_at,
              message: { role: "assistant", content: "" },
              done_reason,
              done: true,
            }
          : { model: clientModel, created_at, response: "", done_reason, done: true };
        return { kind: "local", status: 200, body: answer, ndjson: body.stream !== false };
      }
      const stream = req.body.stream === true;
      const writer = (clock: Clock) => new OllamaWriter({ chat, stream, model: clientModel, clock });
      if (!anthropic)
        return {
          kind: "translate",
          path: "/chat/completions",
          body: req.body,
          stream,
          reader: "openai",
          jsonTool: null,
          writer,
        };
      const a = anthropicFromOpenAI(req, providerModel);
      return {
        kind: "translate",
        path: "/messages",
        body: a.body,
        stream,
        reader: "anthropic",
        jsonTool: a.jsonTool,
        writer,
      };
    }
    case "/api/embed":
    case "/api/embeddings":
      if (anthropic) throw unsupported("embeddings");
      return {
        kind: "embed",
        body: embeddingsFromOllama(path, body, providerModel),
        legacy: path === "/api/embeddings",
      };
    case "/api/show":
      return { kind: "local", status: 200, body: showAnswer(clientModel, host, startedAt), ndjson: false };
    case "/v1/chat/completions": {
      const stream = body.stream === true;
      if (!anthropic) return passPlan(path, body, providerModel, true);
      if (!Array.isArray(body.messages))
        throw new ProxyError("bad_request", "invalid request: messages must be a list");
      const includeUsage = asObject(body.stream_options)?.include_usage === true;
      const a = anthropicFromOpenAI({ body, topK: null }, providerModel);
      return {
        kind: "translate",
        path: "/messages",
        body: a.body,
        stream,
        reader: "anthropic",
        jsonTool: a.jsonTool,
        writer: (clock) => new OpenAIWriter({ stream, includeUsage, model: clientModel, clock }),
      };
    }
    case "/v1/messages": {
      // Anthropic to Anthropic: the body as the client wrote it, the provider's model name in it.
      if (anthropic) return passPlan(path, body, providerModel, false);
      const stream = body.stream === true;
      return {
        kind: "translate",
        path: "/chat/completions",
        body: openaiFromAnthropic(body, providerModel),
        stream,
        reader: "openai",
        jsonTool: null,
        writer: (clock) => new AnthropicWriter({ stream, model: clientModel, clock }),
      };
    }
    case "/v1/completions":
      if (anthropic) throw unsupported("/v1/completions");
      return passPlan(path, body, providerModel, true);
    case "/v1/embeddings":
      if (anthropic) throw unsupported("embeddings");
      return passPlan(path, body, providerModel, false);
    case "/v1/responses":
      if (anthropic) throw unsupported("/v1/responses");
      return passPlan(path, body, providerModel, false);
    default:
      throw new ProxyError(
        "bad_request",
        `${path} is not available for "${clientModel}" on external host ${host.key}`,
      );
  }
}

/**
 * An OpenAI-dialect request to an OpenAI-style host (or an Anthropic one to an Anthropic
 * host): the body goes as it is, with two changes — the model name the provider knows, and,
 * on a stream whose client did not ask for usage, `stream_options.include_usage` (so the
 * request log gets token counts); the extra usage chunk that brings is taken out of the answer
 * again, as the client did not ask for it. Anthropic streams always carry their usage.
 */
function passPlan(path: string, body: Json, model: string, usageOption: boolean): Plan {
  const stream = body.stream === true;
  const out: Json = { ...body, model };
  let dropUsage = false;
  if (stream && usageOption) {
    const so = asObject(body.stream_options) ?? {};
    if (so.include_usage !== true) {
      out.stream_options = { ...so, include_usage: true };
      dropUsage = true;
    }
  }
  return { kind: "pass", path: path.slice("/v1".length), body: out, stream, dropUsage };
}

/** Ollama's /api/show for a model that lives elsewhere: what the proxy knows of it. */
function showAnswer(model: string, host: ExternalHostConfig, startedAt: string): Json {
  return {
    license: "",
    modelfile: `# ${model} is served by the external host "${host.name}" (${host.type} API)\n`,
    parameters: "",
    template: "",
    system: "",
    details: {
      parent_model: "",
      format: "external",
      family: host.type,
      families: [host.type],
      parameter_size: "",
      quantization_level: "",
    },
    model_info: { "general.architecture": host.type },
    capabilities: ["completion", "tools"],
    modified_at: startedAt,
  };
}
