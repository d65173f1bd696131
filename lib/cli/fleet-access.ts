import type { OutgoingHttpHeaders } from "node:http";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { resolve } from "node:path";
import { credentialsPath, readCredentials } from "../client/credentials.js";
import {
  describeNetworkError,
  type FrontDoor,
  formatProxyUrl,
  frontDoorAgent,
  parseProxyUrl,
  readCa,
  requestFrontDoor,
} from "../client/front-door.js";
import type { Config, ServerConfig } from "../config/types.js";
import { isObject, type Json } from "../json.js";
import { silentLog } from "../log/app-log.js";
import { normalizeModel } from "../model-name.js";
import { type Fleet, startFleet } from "../routing/fleet.js";
import { buildInventory, type Inventory } from "../routing/inventory.js";
import { type ConfigArgs, loadOrFail } from "./common.js";
import { call, errorOf, parseJson, readText, resultOf, type ServerResult, streamLines } from "./http-call.js";
import { CliError, EXIT, type Io } from "./io.js";
import { checkToken, readAll } from "./login.js";

export type { ServerResult };

/**
 * How `ollama-proxy models` reaches the fleet: through a running proxy with an admin token
 * (`--url`), or from the host, straight to the servers the config names.
 */
export interface FleetAccess {
  /** `through http://gpu:11434` or `from /etc/ollama-proxy/config.yml [production]`, for messages. */
  readonly where: string;
  /** The model × server matrix; `also` adds models no server has yet. */
  inventory(also: readonly string[]): Promise<Inventory>;
  /** Streams a pull on one server, handing over each progress line; resolves when the stream ends. */
  pull(server: string, model: string, line: (l: Json) => void): Promise<void>;
  /**
   * A copy or delete on each of `servers`, or on every server that has the model when null (the
   * proxy's fan-out, or the config's servers that list it).
   */
  manage(op: "copy" | "delete", body: Json, servers: readonly string[] | null): Promise<ServerResult[]>;
  close(): void;
}

/** The options that choose the way in. */
export interface AccessArgs extends ConfigArgs {
  url?: string | undefined;
  "token-stdin"?: boolean | undefined;
  ca?: string | undefined;
}

/** A pull streams a progress line at least every few seconds; this much silence means it is stuck. */
const PULL_IDLE_MS = 5 * 60_000;
const CALL_IDLE_MS = 60_000;

/** Opens the way in that the arguments name: `--url` through a proxy, else the config. */
export async function openAccess(args: AccessArgs, io: Io): Promise<FleetAccess> {
  if (args.url !== undefined) return throughProxy(await frontDoor(args, io));
  if (args["token-stdin"] || args.ca !== undefined)
    throw new CliError("--token-stdin and --ca go with --url (the proxy to ask)", EXIT.usage);
  return fromConfig(loadOrFail(args).config);
}

/**
 * The proxy and the admin token: `--token-stdin`, else $OLLAMA_PROXY_TOKEN, else what
 * `ollama-proxy login` stored — only when it is for this very URL.
 */
async function frontDoor(args: AccessArgs, io: Io): Promise<FrontDoor> {
  const url = parseProxyUrl(args.url ?? "");
  if (typeof url === "string") throw new CliError(`--url: ${url}`, EXIT.usage);
  const where = formatProxyUrl(url);
  const stored = readCredentials(credentialsPath());
  const login = stored.kind === "ok" && stored.credentials.url === where ? stored.credentials : null;
  let ca: string | null = null;
  const caPath = args.ca !== undefined ? resolve(args.ca) : (login?.ca ?? null);
  if (caPath !== null) {
    const read = readCa(caPath);
    if ("error" in read) throw new CliError(read.error, EXIT.usage);
    ca = read.pem;
  }
  let token: string;
  if (args["token-stdin"]) {
    const input = io.stdin ?? process.stdin;
    if (input.isTTY)
      throw new CliError("--token-stdin reads the token from a pipe, e.g. `< token.txt`", EXIT.usage);
    token = checkToken(await readAll(input), "on stdin");
  } else if (process.env.OLLAMA_PROXY_TOKEN) {
    token = checkToken(process.env.OLLAMA_PROXY_TOKEN, "in OLLAMA_PROXY_TOKEN");
  } else if (login !== null) {
    token = login.token;
  } else {
    throw new CliError(
      `no token for ${where}: pipe an admin token in with --token-stdin, set OLLAMA_PROXY_TOKEN, or run \`ollama-proxy login ${where}\` with one`,
      EXIT.usage,
    );
  }
  return { url, token, ca };
}

/** Through a running proxy: /proxy/models, and each call with X-Ollama-Proxy-Server naming its server. */
function throughProxy(door: FrontDoor): FleetAccess {
  const agent = frontDoorAgent(door);
  const where = formatProxyUrl(door.url);
  const send = (
    method: string,
    path: string,
    headers: OutgoingHttpHeaders,
    body: Json | null,
    idleMs: number,
  ) =>
    call(
      (h) => requestFrontDoor(door, agent, { method, path, headers: h }),
      { authorization: `Bearer ${door.token}`, ...headers },
      body,
      idleMs,
    ).catch((err: Error) => {
      throw err instanceof CliError ? err : new CliError(describeNetworkError(err, door.url));
    });

  const perServer = async (op: "copy" | "delete", body: Json, server: string): Promise<ServerResult> => {
    try {
      const res = await send(
        op === "copy" ? "POST" : "DELETE",
        `/api/${op}`,
        serverHeader(server),
        body,
        CALL_IDLE_MS,
      );
      return resultOf(server, res.statusCode ?? 0, await readText(res));
    } catch (err) {
      return { server, ok: false, status: null, error: (err as Error).message };
    }
  };

  return {
    where: `through ${where}`,
    async inventory(also) {
      const query = also.map((m) => `model=${encodeURIComponent(m)}`).join("&");
      const res = await send("GET", `/proxy/models${query ? `?${query}` : ""}`, {}, null, CALL_IDLE_MS);
      const text = await readText(res);
      const status = res.statusCode ?? 0;
      if (status !== 200) throw new CliError(proxyRefusal(where, status, text));
      const inv = parseJson(text);
      if (!isObject(inv) || !Array.isArray(inv.servers) || !Array.isArray(inv.models))
        throw new CliError(
          `${where} answered /proxy/models with something that is not ollama-proxy's inventory`,
        );
      return inv as unknown as Inventory;
    },
    async pull(server, model, line) {
      const res = await send(
        "POST",
        "/api/pull",
        serverHeader(server),
        { model, stream: true },
        PULL_IDLE_MS,
      );
      await streamLines(res, line);
    },
    async manage(op, body, servers) {
      if (servers !== null) return Promise.all(servers.map((s) => perServer(op, body, s)));
      // No server named: the proxy's fan-out, which answers every server's result.
      const res = await send(op === "copy" ? "POST" : "DELETE", `/api/${op}`, {}, body, CALL_IDLE_MS);
      const text = await readText(res);
      const data = parseJson(text);
      if (isObject(data) && Array.isArray(data.servers)) return data.servers as ServerResult[];
      // One server answered (the proxy knew of no server with the model and asked the one routing picked).
      const server = String(res.headers["x-ollama-proxy-server"] ?? where);
      if (res.statusCode === 401 || res.statusCode === 403)
        throw new CliError(proxyRefusal(where, res.statusCode, text));
      return [resultOf(server, res.statusCode ?? 0, text)];
    },
    close: () => agent.destroy(),
  };
}

/** From the host: the config's servers, polled once for the inventory, and called directly. */
async function fromConfig(config: Config): Promise<FleetAccess> {
  const fleet: Fleet = startFleet(config, silentLog());
  await fleet.ready();
  const servers = new Map(config.servers.filter((s) => s.enabled).map((s) => [s.key, s]));
  const send = (server: ServerConfig, method: string, path: string, body: Json, idleMs: number) => {
    const url = new URL(path, server.origin);
    const make = server.protocol === "https" ? httpsRequest : httpRequest;
    return call((headers) => make(url, { method, headers }), {}, body, idleMs).catch((err: Error) => {
      throw new Error(`cannot reach ${server.key} at ${server.origin}: ${networkReason(err)}`);
    });
  };
  const configured = (name: string): ServerConfig => {
    const s = servers.get(name);
    if (s === undefined)
      throw new CliError(`no enabled server named "${name}" in ${config.file}`, EXIT.usage);
    return s;
  };
  return {
    where: `from ${config.file} [${config.env}]`,
    inventory: async (also) => buildInventory(config, fleet, also),
    async pull(server, model, line) {
      const res = await send(configured(server), "POST", "/api/pull", { model, stream: true }, PULL_IDLE_MS);
      await streamLines(res, line);
    },
    async manage(op, body, named) {
      const targets =
        named ?? holders(buildInventory(config, fleet), String(op === "copy" ? body.source : body.model));
      return Promise.all(
        targets.map(async (name): Promise<ServerResult> => {
          try {
            const res = await send(
              configured(name),
              op === "copy" ? "POST" : "DELETE",
              `/api/${op}`,
              body,
              CALL_IDLE_MS,
            );
            return resultOf(name, res.statusCode ?? 0, await readText(res));
          } catch (err) {
            if (err instanceof CliError) throw err;
            return { server: name, ok: false, status: null, error: (err as Error).message };
          }
        }),
      );
    },
    close: () => fleet.close(),
  };
}

/** Fails with the fleet's server names when `--servers` names one it does not have. */
export function checkServers(inventory: Inventory, servers: readonly string[] | null): void {
  if (servers === null) return;
  const known = inventory.servers.map((s) => s.name);
  const unknown = servers.filter((s) => !known.includes(s));
  if (unknown.length > 0)
    throw new CliError(
      `no enabled server named ${unknown.map((s) => `"${s}"`).join(", ")}; the fleet has: ${known.join(", ") || "none"}`,
      EXIT.usage,
    );
}

/** The servers whose last model list has `model`. */
export function holders(inventory: Inventory, model: string): string[] {
  const key = normalizeModel(model);
  const row = inventory.models.find((m) => m.model === key);
  return row === undefined ? [] : Object.keys(row.servers).filter((name) => row.servers[name]?.present);
}

function serverHeader(server: string): OutgoingHttpHeaders {
  return { "x-ollama-proxy-server": server };
}

/** The proxy refused or does not know the inventory: say what to do. */
function proxyRefusal(where: string, status: number, text: string): string {
  const why = errorOf(status, text);
  if (status === 401) return `${where} refused the token (401): ${why}`;
  if (status === 403) return `${where} refused (403): ${why}; model management needs an admin token`;
  if (status === 404)
    return `${where} does not answer /proxy/models (404: ${why}): it is not an ollama-proxy, or one too old for \`models\``;
  return `${where} answered ${status}: ${why}`;
}

/** `ECONNREFUSED`, `ETIMEDOUT`: the code says it best; the message when there is none. */
function networkReason(err: Error): string {
  return (err as NodeJS.ErrnoException).code ?? err.message;
}
