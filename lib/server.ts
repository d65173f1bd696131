import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type AddressInfo, BlockList, type Socket } from "node:net";
import { type Auth, createAuth } from "./auth.js";
import type { Config } from "./config/types.js";
import { bodyForLog, failRequest, newContext, type RequestContext } from "./context.js";
import { isCloudModel, lookupEndpoint, type Operation } from "./endpoints.js";
import { dialectOf, OWN_HEADERS, ProxyError, sendJson } from "./errors.js";
import { createExternalForwarder } from "./forward/external/forward.js";
import { fanOut } from "./forward/fanout.js";
import { acceptableRequestId, clientAddress, upstreamHeaders } from "./forward/headers.js";
import { createForwarder, type ResponseObserver } from "./forward/proxy.js";
import { type ComponentHealth, healthReport } from "./health.js";
import {
  fleetVersion,
  modelNames,
  openaiModelInfo,
  openaiModels,
  psListing,
  tagsListing,
} from "./listings.js";
import type { Logger } from "./log/app-log.js";
import { peekBody } from "./peek.js";
import { type Fleet, startFleet } from "./routing/fleet.js";
import { normalizeModel } from "./routing/model-name.js";
import type { ServerState } from "./routing/server-state.js";
import type { Route } from "./routing/table.js";
import type { Store } from "./store/open.js";
import type { User } from "./store/users.js";
import { VERSION } from "./version.js";

/**
 * What the rest of the product plugs into the request path: the usage tap, the request log,
 * metrics. Each call is cheap and never blocks; the defaults do nothing.
 */
export interface Telemetry {
  /** A per-request observer of the response bytes (reads token counts), or null. */
  observe(ctx: RequestContext): ResponseObserver | null;
  /** The response is over (finished, failed or abandoned): record it. */
  done(ctx: RequestContext): void;
  /** GET /metrics body, or null when metrics are off. */
  metrics(): Promise<string> | string | null;
  /** Extra health components (request log, app log). */
  components(): ComponentHealth[];
}

const NO_TELEMETRY: Telemetry = {
  observe: () => null,
  done: () => {},
  metrics: () => null,
  components: () => [],
};

export interface ServerOptions {
  config: Config;
  store: Store;
  log: Logger;
  telemetry?: Telemetry;
  /** Overrides config.proxyPort (tests listen on 0). */
  port?: number;
  environ?: NodeJS.ProcessEnv;
}

/** A running proxy; whoever starts it closes it. */
export interface RunningServer {
  readonly port: number;
  readonly url: string;
  readonly fleet: Fleet;
  readonly auth: Auth;
  /** Applies a new config (SIGHUP): servers, assignments, patterns and limits; the listener stays. */
  reload(config: Config): void;
  /** Stops accepting, lets running requests finish for up to the grace period, then ends the rest. */
  close(graceMs?: number): Promise<void>;
  /** Requests being answered right now. */
  active(): number;
}

/** Bodies up to this size are kept whole, so a refused connection can be retried on another server. */
export const REPLAY_BYTES = 1024 * 1024;
const STARTED_ISO = new Date().toISOString();

/**
 * Starts the proxy: node:http with the request pipeline as a fixed list of stages
 * (classify → authenticate → peek → route → forward).
 */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  let config = opts.config;
  const { store, log } = opts;
  const telemetry = opts.telemetry ?? NO_TELEMETRY;
  const startedAt = Date.now();
  const auth = createAuth(store, {
    failuresPerMinute: config.limits.authFailuresPerMinute,
    blockSeconds: config.limits.authBlockSeconds,
    onRefreshError: (err) =>
      log.warn({ err: err.message }, "could not reload users from the database; keeping the last list"),
  });
  const fleet = startFleet(config, log, opts.environ);
  const forwarder = createForwarder(fleet, () => config.limits, log);
  const external = createExternalForwarder({
    log,
    limits: () => config.limits,
    environ: opts.environ ?? process.env,
    startedAt: STARTED_ISO,
  });
  let trusted = blockList(config.trustedProxies);
  let shuttingDown = false;
  let active = 0;
  let drained: (() => void) | null = null;

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q === -1 ? url : url.slice(0, q);
    const given = req.headers["x-request-id"];
    const id = typeof given === "string" && acceptableRequestId(given) ? given : randomUUID();
    const peer = req.socket.remoteAddress ?? "";
    const ctx = newContext(
      id,
      req.method ?? "GET",
      path,
      dialectOf(path),
      clientAddress(peer, req.headers["x-forwarded-for"], trusted),
    );
    active++;
    res.setHeader("x-request-id", id);
    res.once("close", () => {
      if (--active === 0) drained?.();
      ctx.tEnd ??= performance.now();
      if (ctx.status === 0) ctx.status = res.statusCode;
      if (!res.writableFinished && ctx.errorCode === null) ctx.clientAborted = true;
      telemetry.done(ctx);
    });
    const fail = (err: ProxyError) => failRequest(res, ctx, err);
    // The safety net: a bug in a stage answers 500 (or cuts a response already started) and is
    // logged, instead of ending the process and every stream in it.
    const crash = (err: unknown) => {
      log.error({ err, requestId: id, path }, "request handler failed");
      fail(new ProxyError("internal", "internal error in ollama-proxy", { cause: err }));
    };
    try {
      dispatch(req, res, ctx, path, fail, crash);
    } catch (err) {
      crash(err);
    }
  };

  /** The stages after the request is known: public endpoints, auth, listings, routed requests. */
  const dispatch = (
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext,
    path: string,
    fail: (e: ProxyError) => void,
    crash: (err: unknown) => void,
  ) => {
    const entry = lookupEndpoint(path);
    const endpoint = entry?.endpoint;
    // While draining, /health says so (503) and everything else is refused; running requests go on.
    if (shuttingDown && endpoint?.kind !== "health") {
      res.setHeader("connection", "close");
      return fail(
        new ProxyError("shutting_down", "ollama-proxy is shutting down", { headers: { "retry-after": "5" } }),
      );
    }
    // Public endpoints first; everything else needs a token, including unknown paths (they reveal nothing).
    if (
      endpoint?.kind === "root" ||
      endpoint?.kind === "health" ||
      endpoint?.kind === "version" ||
      endpoint?.kind === "metrics"
    ) {
      if (!entry!.methods.includes(ctx.method))
        return fail(methodNotAllowed(ctx.method, path, entry!.methods));
      return servePublic(endpoint.kind, req, res, ctx, fail);
    }
    const user = auth.authenticate(req.headers.authorization, ctx.address, Date.now());
    if (user instanceof ProxyError) return fail(user);
    ctx.user = user;
    if (entry === null || endpoint === undefined) {
      return fail(new ProxyError("not_found", `${path} is not an Ollama endpoint`));
    }
    if (!entry.methods.includes(ctx.method)) return fail(methodNotAllowed(ctx.method, path, entry.methods));

    switch (endpoint.kind) {
      case "tags":
        return sendJson(res, 200, tagsListing(config, fleet, STARTED_ISO));
      case "ps":
        return sendJson(res, 200, psListing(fleet));
      case "models":
        return sendJson(res, 200, openaiModels(config, fleet));
      case "me":
        return sendJson(res, 200, whoami(user, config, fleet));
      case "model-info": {
        // A broken escape would throw out of the request handler and take the process down.
        let name: string;
        try {
          name = decodeURIComponent(path.slice("/v1/models/".length));
        } catch {
          return fail(new ProxyError("bad_request", `${path}: the model name is not valid percent-encoding`));
        }
        const info = openaiModelInfo(config, fleet, name);
        return info === null
          ? fail(new ProxyError("model_not_found", `model "${name}" not found`))
          : sendJson(res, 200, info);
      }
      case "cloud":
        if (!config.allowCloud) return fail(cloudRefused(path));
        return forwardRaw(req, res, ctx, fail, null);
      case "blobs":
        if (user.role !== "admin") return fail(adminOnly(path));
        return forwardRaw(req, res, ctx, fail, req.headers["x-ollama-proxy-server"]);
      case "routed":
        if (endpoint.admin && user.role !== "admin") return fail(adminOnly(path));
        routed(req, res, ctx, endpoint.keys, endpoint.op, fail).catch(crash);
        return;
    }
  };

  const servePublic = (
    kind: "root" | "health" | "version" | "metrics",
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext,
    fail: (e: ProxyError) => void,
  ) => {
    switch (kind) {
      case "root":
        res.writeHead(200, {
          ...OWN_HEADERS,
          "content-type": "text/plain; charset=utf-8",
          "content-length": 17,
        });
        res.end(req.method === "HEAD" ? undefined : "Ollama is running");
        return;
      case "version":
        return sendJson(res, 200, { version: fleetVersion(fleet, VERSION) });
      case "health": {
        const report = healthReport(fleet, {
          version: VERSION,
          startedAt,
          shuttingDown,
          slowMs: config.health.slowThresholdMs,
          components: telemetry.components(),
        });
        return sendJson(res, report.status === "down" ? 503 : 200, report);
      }
      case "metrics": {
        if (!config.metrics.enabled)
          return fail(new ProxyError("not_found", "metrics are disabled in the config"));
        const want = config.metrics.token;
        if (want !== null && req.headers.authorization !== `Bearer ${want}`) {
          return fail(
            new ProxyError("unauthorized", "unauthorized: /metrics needs the metrics token", {
              headers: { "www-authenticate": 'Bearer realm="ollama-proxy-metrics"' },
            }),
          );
        }
        Promise.resolve(telemetry.metrics()).then(
          (text) => {
            if (text === null) return fail(new ProxyError("not_found", "metrics are not available"));
            res.writeHead(200, {
              "content-type": "text/plain; version=0.0.4; charset=utf-8",
              "cache-control": "no-store",
            });
            res.end(text);
          },
          (err: Error) => fail(new ProxyError("internal", `metrics: ${err.message}`)),
        );
        return;
      }
    }
    void ctx;
  };

  /** The routed stages: peek the model, pick servers, forward. */
  const routed = async (
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext,
    keys: readonly string[],
    op: Operation,
    fail: (e: ProxyError) => void,
  ) => {
    const body = await peekBody(req, {
      keys,
      maxBytes: config.limits.maxBodyBytes,
      replayBytes: REPLAY_BYTES,
    });
    if (body instanceof ProxyError) return fail(body);
    ctx.model = body.model;
    ctx.bytesIn = body.complete ? body.bytes : Number(req.headers["content-length"] ?? body.bytes);
    if (config.logging.logBodies) {
      ctx.requestBody = body.complete
        ? bodyForLog(body.chunks, body.bytes)
        : `(streamed body of ${ctx.bytesIn} bytes, not kept for the log)`;
    }
    if (!config.allowCloud && isCloudModel(body.model)) return fail(cloudRefused(body.model));

    const chosen = chooseServers(op, body.model, req.headers["x-ollama-proxy-server"]);
    if (chosen instanceof ProxyError) return fail(chosen);
    if (chosen.kind === "external") {
      // The provider knows the model by the name the assignment was written with (no ":latest").
      const model = config.models.explicitAssignments.get(chosen.model)?.model ?? body.model;
      return external.forward({ req, res, ctx, body, host: chosen.host, model });
    }
    req.headers = upstreamHeaders(
      req.headers,
      ctx.id,
      req.socket.remoteAddress ?? "",
      trusted,
      body.complete ? body.bytes : null,
    );
    const management = op !== "infer" && op !== "show";
    if (chosen.kind === "fanout") {
      return fanOut(req, res, ctx, body, chosen.servers, fleet, config.limits, log);
    }
    forwarder.forward({
      req,
      res,
      ctx,
      body,
      tiers: chosen.tiers,
      observer: telemetry.observe(ctx),
      onResponse: management ? (status, server) => refreshAfter(res, status, server) : null,
    });
  };

  /** After a successful pull, create or push, the server's model list is re-read once the response is over. */
  const refreshAfter = (res: ServerResponse, status: number, server: ServerState) => {
    if (status < 300) res.once("close", () => fleet.refreshModels(server));
  };

  type Choice =
    | { kind: "tiers"; tiers: readonly (readonly ServerState[])[] }
    | { kind: "fanout"; servers: ServerState[] }
    | Extract<Route, { kind: "external" }>;

  /**
   * Which servers a routed request goes to. Inference and show follow the routing table;
   * an admin's X-Ollama-Proxy-Server header names one server for management; copy and delete
   * without it go to every server that has the model.
   */
  const chooseServers = (
    op: Operation,
    model: string,
    header: string | string[] | undefined,
  ): Choice | ProxyError => {
    if (op !== "infer" && op !== "show" && typeof header === "string" && header !== "") {
      const target = fleet.servers().find((s) => s.key === header || s.config.name === header);
      if (target === undefined)
        return new ProxyError("bad_request", `X-Ollama-Proxy-Server: no enabled server named "${header}"`);
      if (target.health === "down") return new ProxyError("no_server", `server "${target.key}" is down`);
      return { kind: "tiers", tiers: [[target]] };
    }
    if (op === "copy" || op === "delete") {
      const key = normalizeModel(model);
      const having = fleet.servers().filter((s) => s.usable && s.models.has(key));
      if (having.length > 0) return { kind: "fanout", servers: having };
    }
    const route = fleet.table().route(model);
    switch (route.kind) {
      case "error":
        return route.error;
      case "external":
        if (op !== "infer" && op !== "show")
          return new ProxyError(
            "bad_request",
            `model "${model}" lives on external host "${route.host.key}": it cannot be managed through the proxy`,
          );
        if (!route.hostUsable)
          return new ProxyError(
            "no_server",
            `model "${model}" is assigned to external host "${route.host.key}", which is not usable (see /health)`,
          );
        return route;
      case "ollama":
        return { kind: "tiers", tiers: route.tiers };
    }
  };

  /**
   * Requests without a model in a JSON body (blob uploads, cloud endpoints): streamed as they
   * are to the named server, else to the first usable server by priority (so that `ollama
   * create` finds the blobs it uploaded on the server it creates on).
   */
  const forwardRaw = (
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext,
    fail: (e: ProxyError) => void,
    header: string | string[] | undefined | null,
  ) => {
    let target: ServerState | undefined;
    if (typeof header === "string" && header !== "") {
      target = fleet.servers().find((s) => s.key === header || s.config.name === header);
      if (target === undefined)
        return fail(
          new ProxyError("bad_request", `X-Ollama-Proxy-Server: no enabled server named "${header}"`),
        );
    } else {
      target = fleet.servers().find((s) => s.usable);
    }
    if (target === undefined)
      return fail(
        new ProxyError("no_server", "no Ollama server is available", { headers: { "retry-after": "5" } }),
      );
    ctx.bytesIn = Number(req.headers["content-length"] ?? 0);
    req.headers = upstreamHeaders(req.headers, ctx.id, req.socket.remoteAddress ?? "", trusted, null);
    forwarder.forward({ req, res, ctx, body: null, tiers: [[target]], observer: null });
  };

  const server: Server = createServer(
    {
      headersTimeout: config.limits.headersTimeoutMs,
      requestTimeout: config.limits.requestTimeoutMs,
      maxHeaderSize: config.limits.maxHeaderBytes,
      keepAliveTimeout: 5_000,
      // How often Node enforces headersTimeout/requestTimeout (its default, 30 s, lets a slowloris linger).
      connectionsCheckingInterval: 1_000,
      noDelay: true,
    },
    handle,
  );
  // Node answers 431 for oversized headers and 408 for slow ones itself; this keeps a bad client from crashing anything.
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) return socket.destroy();
    const status =
      err.code === "HPE_HEADER_OVERFLOW" ? 431 : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
    const text = JSON.stringify({
      error:
        status === 431 ? "request headers too large" : status === 408 ? "request timeout" : "bad request",
    });
    socket.end(
      `HTTP/1.1 ${status} ${status === 431 ? "Request Header Fields Too Large" : status === 408 ? "Request Timeout" : "Bad Request"}\r\n` +
        "content-type: application/json; charset=utf-8\r\nx-content-type-options: nosniff\r\ncache-control: no-store\r\n" +
        `content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
    );
  });

  await fleet.ready();
  server.listen(opts.port ?? config.proxyPort, config.bind);
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  const host = config.bind === "0.0.0.0" || config.bind === "::" ? "127.0.0.1" : config.bind;
  log.info(
    { port, bind: config.bind, servers: fleet.servers().map((s) => s.key), env: config.env },
    "listening",
  );

  return {
    port,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    fleet,
    auth,
    active: () => active,
    reload(next) {
      config = next;
      trusted = blockList(next.trustedProxies);
      fleet.reconfigure(next);
      server.headersTimeout = next.limits.headersTimeoutMs;
      server.requestTimeout = next.limits.requestTimeoutMs;
      log.info(
        { file: next.file, env: next.env, servers: next.servers.map((s) => s.key) },
        "config reloaded",
      );
    },
    async close(graceMs = config.limits.shutdownGraceSeconds * 1000) {
      // Drain: keep listening so that /health answers 503 and new requests a clear refusal,
      // let running requests finish within the grace period, then end whatever is left.
      shuttingDown = true;
      server.closeIdleConnections();
      if (active > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs);
          drained = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      forwarder.close();
      external.close();
      fleet.close();
      auth.close();
    },
  };
}

/** GET /proxy/me: the caller as the proxy knows it, and the models it may use. */
function whoami(user: User, config: Config, fleet: Fleet) {
  return {
    name: user.name,
    role: user.role,
    policy: null,
    expires_at: user.expiresAt === null ? null : new Date(user.expiresAt).toISOString(),
    models: modelNames(config, fleet),
  };
}

function blockList(entries: readonly string[]): BlockList | null {
  if (entries.length === 0) return null;
  const list = new BlockList();
  for (const e of entries) {
    const [addr = "", bits] = e.split("/");
    const family = addr.includes(":") ? "ipv6" : "ipv4";
    if (bits === undefined) list.addAddress(addr, family);
    else list.addSubnet(addr, Number(bits), family);
  }
  return list;
}

function methodNotAllowed(method: string, path: string, allowed: readonly string[]): ProxyError {
  // A 405 must say what is allowed (RFC 9110 §15.5.6).
  return new ProxyError("method_not_allowed", `method ${method} is not allowed on ${path}`, {
    headers: { allow: allowed.join(", ") },
  });
}

function adminOnly(path: string): ProxyError {
  return new ProxyError("forbidden", `forbidden: ${path} needs an admin token`);
}

function cloudRefused(what: string): ProxyError {
  return new ProxyError(
    "forbidden",
    `forbidden: ${what} uses Ollama's cloud, which this proxy does not allow (allow_cloud: false)`,
  );
}
