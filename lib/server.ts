import { once } from "node:events";
import { createServer, type Server, type ServerResponse } from "node:http";
import { type AddressInfo, BlockList, type Socket } from "node:net";
import { describeRestartKey, type ReloadReport, reloadReport } from "./config/reload.js";
import type { Config } from "./config/types.js";
import { ProxyError } from "./errors.js";
import { createExternalForwarder } from "./forward/external/forward.js";
import { createOllamaForwarder } from "./forward/ollama.js";
import { rawErrorResponse } from "./http/respond.js";
import type { Logger } from "./log/app-log.js";
import type { ConfigStatus } from "./observe/health.js";
import { NO_TELEMETRY, type Telemetry } from "./observe/telemetry.js";
import { createPipeline } from "./pipeline.js";
import { createPolicies, type PolicyRefusals } from "./policy/policies.js";
import { startUsageSnapshots } from "./policy/snapshot.js";
import { readTokensToday } from "./policy/today.js";
import { type Fleet, startFleet } from "./routing/fleet.js";
import { createScheduler } from "./schedule/scheduler.js";
import type { SchedulerSnapshot } from "./schedule/types.js";
import { type Auth, type AuthCounts, createAuth } from "./stages/authenticate.js";
import type { Store } from "./store/open.js";

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
  /**
   * Applies a new config (SIGHUP): every key that can change live; the listener, the database
   * and the log writers stay as started. Says which keys it applied and which wait for a restart.
   * `logging.level` is applied by whoever owns the app log (serve: `AppLog.setLevel`).
   */
  reload(config: Config): ReloadReport;
  /** A reload could not read the file: the running config stays; /health and /metrics say so. */
  reloadFailed(error: string): void;
  /** The config in use and what the last reload did. */
  configStatus(): ConfigStatus;
  /** Refused tokens and blocked addresses since start (for /metrics). */
  authCounts(): AuthCounts;
  /** Requests the policies refused since start, by policy and reason (for /metrics). */
  policyRefusals(): readonly PolicyRefusals[];
  /** The scheduler's counters (for /metrics), or null when no server has `parallel`. */
  schedule(): SchedulerSnapshot | null;
  /** Stops accepting, lets running requests finish for up to the grace period, then ends the rest. */
  close(graceMs?: number): Promise<void>;
  /** Requests being answered right now. */
  active(): number;
}

/** Pipelined requests a connection may have waiting behind an unfinished answer. */
const MAX_QUEUED = 16;
const queued = new WeakMap<Socket, number>();

/**
 * A pipelined request (its answer must wait for an earlier one on the same connection): Node
 * parses and answers such requests into memory while the client reads nothing. Past
 * MAX_QUEUED waiting answers the connection is closed; true when it was.
 */
function tooManyQueued(socket: Socket, res: ServerResponse): boolean {
  const n = (queued.get(socket) ?? 0) + 1;
  if (n > MAX_QUEUED) {
    socket.destroy();
    return true;
  }
  queued.set(socket, n);
  res.once("socket", () => queued.set(socket, (queued.get(socket) ?? 1) - 1));
  return false;
}

/** Starts the proxy: node:http with the request pipeline (lib/pipeline.ts); this file keeps listen, reload and drain. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  let config = opts.config;
  // What the listener, the database and the log writers were opened with: the keys a reload cannot change.
  const boot = opts.config;
  const { store, log } = opts;
  const telemetry = opts.telemetry ?? NO_TELEMETRY;
  const startedAt = Date.now();
  const auth = createAuth(store, {
    failuresPerMinute: config.limits.authFailuresPerMinute,
    blockSeconds: config.limits.authBlockSeconds,
    onRefreshError: (err) =>
      log.warn({ err: err.message }, "could not reload users from the database; keeping the last list"),
  });
  const scheduler = createScheduler(config);
  let scheduled = anyParallel(config);
  const fleet = startFleet(config, log, opts.environ, { serverDown: (s) => scheduler.serverDown(s) });
  const policies = createPolicies(config);
  // Today's token use survives a restart: read once from the request log, never per request.
  policies.restore(readTokensToday(store.db, Date.now()), Date.now());
  // What `users show` reads of the live counters (in flight, last minute), written off the request path.
  const snapshots = startUsageSnapshots({
    path: store.path,
    read: policies.snapshot,
    onError: (err) => log.warn({ err: err.message }, "could not write the policy usage snapshot"),
  });
  const limits = () => config.limits;
  const ollama = createOllamaForwarder(fleet, limits, log, scheduler, (from, to) =>
    telemetry.failover?.(from, to),
  );
  const external = createExternalForwarder({
    log,
    limits,
    environ: opts.environ ?? process.env,
    startedAt: new Date(startedAt).toISOString(),
  });
  let trusted = blockList(config.trustedProxies);
  let draining = false;
  let active = 0;
  let status: ConfigStatus = {
    file: config.file,
    env: config.env,
    loadedAt: startedAt,
    lastReload: null,
    needsRestart: [],
  };
  let drained: (() => void) | null = null;

  const pipeline = createPipeline({
    auth,
    policies,
    scheduler: () => (scheduled ? scheduler : null),
    fleet,
    ollama,
    external,
    telemetry,
    log,
    startedAt,
    config: () => config,
    configStatus: () => status,
    limits,
    trusted: () => trusted,
    draining: () => draining,
    requestEnded: () => {
      if (--active === 0) drained?.();
    },
  });
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
    (req, res) => {
      if (res.socket === null && tooManyQueued(req.socket, res)) return;
      active++;
      pipeline(req, res);
    },
  );
  // Node's parser refuses oversized headers (431), slow ones (408) and bad syntax (400) before
  // there is a request; the client still gets a readable answer, and nothing crashes.
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) return socket.destroy();
    socket.end(rawErrorResponse(parserRefusal(err)));
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
      const report = reloadReport(boot, config, next);
      config = next;
      trusted = blockList(next.trustedProxies);
      fleet.reconfigure(next);
      scheduler.reconfigure(next);
      scheduled = anyParallel(next);
      policies.reload(next);
      // Requests are counted only under a policy: a quota defined by this reload starts from the log.
      policies.restore(readTokensToday(store.db, Date.now()), Date.now());
      auth.reconfigure({
        failuresPerMinute: next.limits.authFailuresPerMinute,
        blockSeconds: next.limits.authBlockSeconds,
      });
      server.headersTimeout = next.limits.headersTimeoutMs;
      server.requestTimeout = next.limits.requestTimeoutMs;
      const now = Date.now();
      status = {
        ...status,
        loadedAt: now,
        lastReload: { kind: "applied", at: now, applied: report.applied },
        needsRestart: report.needsRestart,
      };
      log.info(
        {
          file: next.file,
          env: next.env,
          servers: next.servers.map((s) => s.key),
          applied: report.applied,
          needsRestart: report.needsRestart,
        },
        "config reloaded",
      );
      if (report.needsRestart.length > 0) {
        const keys = report.needsRestart.map((k) => describeRestartKey(k, boot, next));
        log.warn(
          { needsRestart: report.needsRestart },
          `config changed that needs a restart: ${keys.join(", ")}`,
        );
      }
      return report;
    },
    reloadFailed(error) {
      status = { ...status, lastReload: { kind: "failed", at: Date.now(), error } };
    },
    configStatus: () => status,
    authCounts: () => auth.counts(),
    policyRefusals: () => policies.refusals(),
    schedule: () => (scheduled ? scheduler.snapshot(fleet.servers()) : null),
    async close(graceMs = config.limits.shutdownGraceSeconds * 1000) {
      // Drain: keep listening so that /health answers 503 and new requests a clear refusal,
      // let running requests finish within the grace period, then end whatever is left.
      draining = true;
      // Nothing waiting in the proxy will be served: it gets its 503 now, not at the grace period's end.
      scheduler.close();
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
      ollama.close();
      external.close();
      fleet.close();
      snapshots.close();
      auth.close();
    },
  };
}

/** True when some enabled server has `parallel`: only then does a request pass the scheduler. */
function anyParallel(config: Config): boolean {
  return config.servers.some((s) => s.enabled && s.parallel !== null);
}

/** What Node's parser refused, as the error the client reads. */
function parserRefusal(err: NodeJS.ErrnoException): ProxyError {
  if (err.code === "HPE_HEADER_OVERFLOW")
    return new ProxyError("headers_too_large", "request headers too large");
  if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") return new ProxyError("request_timeout", "request timeout");
  return new ProxyError("bad_request", "bad request");
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
