/** Answers the proxy gives from its own state, without asking a backend. */
export type LocalAnswer =
  | "root"
  | "health"
  | "version"
  | "metrics"
  | "tags"
  | "ps"
  | "models"
  | "model-info"
  | "me"
  | "inventory"
  | "status";

/** What the proxy does with a path. */
export type Endpoint =
  /** Answered by the proxy itself; `public` ones need no token. */
  | { readonly kind: "local"; readonly answer: LocalAnswer; readonly public: boolean }
  /** Routed by the model named in the request body. */
  | {
      readonly kind: "routed";
      /** Body keys (or form fields) naming the model, preferred first. */
      readonly keys: readonly string[];
      /** How the body names the model: a JSON object, or a multipart form (audio uploads). */
      readonly body: "json" | "form";
      readonly op: Operation;
      /** Model management: role admin only. */
      readonly admin: boolean;
    }
  /**
   * Streamed to one server as it is, no model to read: blob uploads (admin), and Ollama's
   * account and cloud endpoints (`cloud`: only with allow_cloud).
   */
  | { readonly kind: "raw"; readonly admin: boolean; readonly cloud: boolean };

/**
 * How a routed request picks its servers: `infer` and `show` go to the best server for the
 * model; management calls have their own rules (README, "Model management").
 */
export type Operation = "infer" | "show" | "pull" | "push" | "create" | "copy" | "delete";

/** A path's endpoint and the methods it answers. */
export interface Entry {
  readonly methods: readonly string[];
  readonly endpoint: Endpoint;
}

const local = (answer: LocalAnswer, methods: readonly string[], isPublic = false): Entry => ({
  methods,
  endpoint: { kind: "local", answer, public: isPublic },
});
const infer = (keys: readonly string[] = ["model"], body: "json" | "form" = "json"): Entry => ({
  methods: ["POST"],
  endpoint: { kind: "routed", keys, body, op: "infer", admin: false },
});
const manage = (op: Operation, keys: readonly string[], method = "POST"): Entry => ({
  methods: [method],
  endpoint: { kind: "routed", keys, body: "json", op, admin: true },
});

/** Every path a stock Ollama serves, by exact path (a Map lookup: no pattern matching per request). */
const TABLE = new Map<string, Entry>([
  ["/", local("root", ["GET", "HEAD"], true)],
  ["/health", local("health", ["GET", "HEAD"], true)],
  ["/metrics", local("metrics", ["GET"], true)],
  ["/api/version", local("version", ["GET", "HEAD"], true)],
  // Ollama's cloud switch as this proxy applies it (allow_cloud), not as one backend has it.
  ["/api/status", local("status", ["GET"])],
  ["/api/tags", local("tags", ["GET", "HEAD"])],
  ["/api/ps", local("ps", ["GET"])],
  ["/v1/models", local("models", ["GET"])],
  // The proxy's own: who the token belongs to and what it may use (`ollama-proxy login`, `whoami`).
  ["/proxy/me", local("me", ["GET"])],
  // The proxy's own: every model on every server (`ollama-proxy models`); a user who is not an
  // admin sees only the models their policy allows.
  ["/proxy/models", local("inventory", ["GET"])],
  ["/api/generate", infer()],
  ["/api/chat", infer()],
  ["/api/embed", infer()],
  ["/api/embeddings", infer()],
  [
    "/api/show",
    {
      methods: ["POST"],
      endpoint: { kind: "routed", keys: ["model", "name"], body: "json", op: "show", admin: false },
    },
  ],
  ["/v1/chat/completions", infer()],
  ["/v1/completions", infer()],
  ["/v1/embeddings", infer()],
  ["/v1/responses", infer()],
  // Anthropic's Messages API (Ollama 0.14+): Claude Code and the Anthropic SDKs.
  ["/v1/messages", infer()],
  // OpenAI's speech to text: a multipart upload whose `model` field names the model.
  ["/v1/audio/transcriptions", infer(["model"], "form")],
  ["/api/pull", manage("pull", ["model", "name"])],
  ["/api/push", manage("push", ["model", "name"])],
  ["/api/create", manage("create", ["model", "name"])],
  ["/api/copy", manage("copy", ["source"])],
  ["/api/delete", manage("delete", ["model", "name"], "DELETE")],
  // Ollama's account calls act with the server's own ollama.com identity: admins only, and only with allow_cloud.
  ["/api/me", { methods: ["POST"], endpoint: { kind: "raw", admin: true, cloud: true } }],
  ["/api/signout", { methods: ["POST"], endpoint: { kind: "raw", admin: true, cloud: true } }],
]);

const BLOBS: Entry = { methods: ["HEAD", "POST"], endpoint: { kind: "raw", admin: true, cloud: false } };
const CLOUD: Entry = { methods: ["GET", "POST"], endpoint: { kind: "raw", admin: false, cloud: true } };
/** Ollama's older sign-out (`DELETE /api/user/keys/{key}`). */
const USER_KEYS: Entry = { methods: ["DELETE"], endpoint: { kind: "raw", admin: true, cloud: true } };
const MODEL_INFO: Entry = local("model-info", ["GET"]);

/** The endpoint for a path (without query string), or null for a path Ollama does not serve. */
export function lookupEndpoint(path: string): Entry | null {
  const exact = TABLE.get(path);
  if (exact !== undefined) return exact;
  if (path.startsWith("/api/blobs/")) return BLOBS;
  if (path.startsWith("/api/experimental/")) return CLOUD;
  if (path.startsWith("/api/user/keys/")) return USER_KEYS;
  if (path.startsWith("/v1/models/")) return MODEL_INFO;
  return null;
}

/**
 * A path as a bounded label (metrics): the path itself for an endpoint of the table, the
 * family for the ones matched by prefix, `other` for anything else — never the raw path,
 * which a client can make up at will.
 */
export function endpointLabel(path: string, entry: Entry | null): string {
  if (entry === null) return "other";
  if (entry === BLOBS) return "/api/blobs/{digest}";
  if (entry === CLOUD) return "/api/experimental/{path}";
  if (entry === MODEL_INFO) return "/v1/models/{model}";
  return path;
}

/** Every endpoint with a path that stands for it (for tests that must cover them all). */
export function everyEndpoint(): readonly (readonly [string, Entry])[] {
  return [
    ...TABLE.entries(),
    ["/api/blobs/sha256:0", BLOBS],
    ["/api/experimental/x", CLOUD],
    ["/api/user/keys/x", USER_KEYS],
    ["/v1/models/llama3", MODEL_INFO],
  ];
}

/** Ollama cloud models (`gpt-oss:120b-cloud`, `name:cloud`) run on ollama.com, not on the fleet. */
export function isCloudModel(model: string): boolean {
  const tag = model.slice(model.lastIndexOf(":") + 1).toLowerCase();
  return tag === "cloud" || tag.endsWith("-cloud") || model.toLowerCase().endsWith("-cloud");
}
