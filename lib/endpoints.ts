/** What the proxy does with a path. */
export type Endpoint =
  | { readonly kind: "root" | "health" | "version" | "metrics" }
  | { readonly kind: "tags" | "ps" | "models" | "model-info" | "me" }
  | {
      readonly kind: "routed";
      /** Body keys naming the model, preferred first. */
      readonly keys: readonly string[];
      readonly op: Operation;
      /** Model management: role admin only. */
      readonly admin: boolean;
    }
  | { readonly kind: "blobs" }
  | { readonly kind: "cloud" };

/**
 * How a routed request picks its servers: `infer` and `show` go to the best server for the
 * model; management calls have their own rules (README, "Model management").
 */
export type Operation = "infer" | "show" | "pull" | "push" | "create" | "copy" | "delete";

interface Entry {
  readonly methods: readonly string[];
  readonly endpoint: Endpoint;
}

const infer = (keys: readonly string[] = ["model"]): Endpoint => ({
  kind: "routed",
  keys,
  op: "infer",
  admin: false,
});
const manage = (op: Operation, keys: readonly string[]): Endpoint => ({
  kind: "routed",
  keys,
  op,
  admin: true,
});

/** Every path a stock Ollama serves, by exact path (a Map lookup: no pattern matching per request). */
const TABLE = new Map<string, Entry>([
  ["/", { methods: ["GET", "HEAD"], endpoint: { kind: "root" } }],
  ["/health", { methods: ["GET", "HEAD"], endpoint: { kind: "health" } }],
  ["/metrics", { methods: ["GET"], endpoint: { kind: "metrics" } }],
  ["/api/version", { methods: ["GET", "HEAD"], endpoint: { kind: "version" } }],
  ["/api/tags", { methods: ["GET", "HEAD"], endpoint: { kind: "tags" } }],
  ["/api/ps", { methods: ["GET"], endpoint: { kind: "ps" } }],
  ["/v1/models", { methods: ["GET"], endpoint: { kind: "models" } }],
  // The proxy's own: who the token belongs to and what it may use (`ollama-proxy login`, `whoami`).
  ["/proxy/me", { methods: ["GET"], endpoint: { kind: "me" } }],
  ["/api/generate", { methods: ["POST"], endpoint: infer() }],
  ["/api/chat", { methods: ["POST"], endpoint: infer() }],
  ["/api/embed", { methods: ["POST"], endpoint: infer() }],
  ["/api/embeddings", { methods: ["POST"], endpoint: infer() }],
  [
    "/api/show",
    { methods: ["POST"], endpoint: { kind: "routed", keys: ["model", "name"], op: "show", admin: false } },
  ],
  ["/v1/chat/completions", { methods: ["POST"], endpoint: infer() }],
  ["/v1/completions", { methods: ["POST"], endpoint: infer() }],
  ["/v1/embeddings", { methods: ["POST"], endpoint: infer() }],
  ["/v1/responses", { methods: ["POST"], endpoint: infer() }],
  ["/api/pull", { methods: ["POST"], endpoint: manage("pull", ["model", "name"]) }],
  ["/api/push", { methods: ["POST"], endpoint: manage("push", ["model", "name"]) }],
  ["/api/create", { methods: ["POST"], endpoint: manage("create", ["model", "name"]) }],
  ["/api/copy", { methods: ["POST"], endpoint: manage("copy", ["source"]) }],
  ["/api/delete", { methods: ["DELETE"], endpoint: manage("delete", ["model", "name"]) }],
  ["/api/me", { methods: ["GET", "POST"], endpoint: { kind: "cloud" } }],
  ["/api/signout", { methods: ["GET", "POST", "DELETE"], endpoint: { kind: "cloud" } }],
]);

const BLOBS: Entry = { methods: ["HEAD", "POST"], endpoint: { kind: "blobs" } };
const CLOUD: Entry = {
  methods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
  endpoint: { kind: "cloud" },
};
const MODEL_INFO: Entry = { methods: ["GET"], endpoint: { kind: "model-info" } };

/** The endpoint for a path (without query string), or null for a path Ollama does not serve. */
export function lookupEndpoint(path: string): Entry | null {
  const exact = TABLE.get(path);
  if (exact !== undefined) return exact;
  if (path.startsWith("/api/blobs/")) return BLOBS;
  if (path.startsWith("/api/experimental/")) return CLOUD;
  if (path.startsWith("/v1/models/")) return MODEL_INFO;
  return null;
}

/** Ollama cloud models (`gpt-oss:120b-cloud`, `name:cloud`) run on ollama.com, not on the fleet. */
export function isCloudModel(model: string): boolean {
  const tag = model.slice(model.lastIndexOf(":") + 1).toLowerCase();
  return tag === "cloud" || tag.endsWith("-cloud") || model.toLowerCase().endsWith("-cloud");
}
