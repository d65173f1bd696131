import type { IncomingHttpHeaders } from "node:http";
import type { Config, ExternalHostConfig } from "../config/types.js";
import { ProxyError } from "../errors.js";
import { normalizeModel } from "../model-name.js";
import type { Fleet } from "../routing/fleet.js";
import type { ServerState } from "../routing/server-state.js";
import type { Endpoint } from "./endpoints.js";

/** Where a request goes. */
export type Target =
  /** Ollama servers in tiers of preference; `management`: re-read the server's models after a success. */
  | {
      readonly kind: "ollama";
      readonly tiers: readonly (readonly ServerState[])[];
      readonly management: boolean;
    }
  /** Copy and delete without a named server: every server that has the model. */
  | { readonly kind: "fanout"; readonly servers: readonly ServerState[] }
  /** A model assigned to an external host; `model` is the name the provider knows. */
  | { readonly kind: "external"; readonly host: ExternalHostConfig; readonly model: string };

type Routed = Extract<Endpoint, { kind: "routed" }>;

/**
 * The route stage for a request routed by model. Inference and show follow the routing table
 * (a snapshot: no I/O here); an admin's `X-Ollama-Proxy-Server` header names one server for
 * management; copy and delete without it go to every server that has the model.
 */
export function route(
  fleet: Fleet,
  config: Config,
  endpoint: Routed,
  model: string,
  headers: IncomingHttpHeaders,
): Target | ProxyError {
  const { op } = endpoint;
  const management = op !== "infer" && op !== "show";
  if (management) {
    const named = namedServer(fleet, headers);
    if (named !== null)
      return named instanceof ProxyError ? named : { kind: "ollama", tiers: [[named]], management };
  }
  if (op === "copy" || op === "delete") {
    const key = normalizeModel(model);
    const having = fleet.servers().filter((s) => s.usable && s.models.has(key));
    if (having.length > 0) return { kind: "fanout", servers: having };
  }
  const r = fleet.table().route(model);
  switch (r.kind) {
    case "error":
      return r.error;
    case "unavailable":
      // A pull is how a model gets onto a server that can run it: it goes where the model fits.
      if (op === "pull" && r.fallback.length > 0) return { kind: "ollama", tiers: r.fallback, management };
      return r.error;
    case "external":
      if (endpoint.body === "form")
        return new ProxyError(
          "bad_request",
          `${endpoint.keys[0]} "${model}" lives on external host "${r.host.key}": uploads (audio transcription) are served by Ollama servers only`,
        );
      if (management)
        return new ProxyError(
          "bad_request",
          `model "${model}" lives on external host "${r.host.key}": it cannot be managed through the proxy`,
        );
      if (!r.hostUsable)
        return new ProxyError(
          "no_server",
          `model "${model}" is assigned to external host "${r.host.key}", which is not usable (see /health)`,
        );
      // The provider knows the model by the name the assignment was written with (no ":latest").
      return {
        kind: "external",
        host: r.host,
        model: config.models.explicitAssignments.get(r.model)?.model ?? model,
      };
    case "ollama":
      return { kind: "ollama", tiers: r.tiers, management };
  }
}

/**
 * The route stage for a request without a model (blob uploads, Ollama's cloud endpoints): the
 * server the header names, else the first usable one by priority — so that `ollama create`
 * finds the blobs it uploaded on the server it creates on.
 */
export function routeRaw(fleet: Fleet, headers: IncomingHttpHeaders): Target | ProxyError {
  const named = namedServer(fleet, headers);
  if (named instanceof ProxyError) return named;
  const server = named ?? fleet.servers().find((s) => s.usable);
  if (server === undefined)
    return new ProxyError("no_server", "no Ollama server is available", { headers: { "retry-after": "5" } });
  return { kind: "ollama", tiers: [[server]], management: false };
}

/** The server an admin's `X-Ollama-Proxy-Server` header names; null without the header. */
function namedServer(fleet: Fleet, headers: IncomingHttpHeaders): ServerState | ProxyError | null {
  const name = headers["x-ollama-proxy-server"];
  if (typeof name !== "string" || name === "") return null;
  const server = fleet.servers().find((s) => s.key === name || s.config.name === name);
  if (server === undefined)
    return new ProxyError("bad_request", `X-Ollama-Proxy-Server: no enabled server named "${name}"`);
  if (server.health === "down") return new ProxyError("no_server", `server "${server.key}" is down`);
  return server;
}
