import type { ServerResponse } from "node:http";
import { BlockList, type Socket } from "node:net";
import { type AppliedReload, describeRestartKey, type ReloadReport, reloadReport } from "./config/reload.js";
import type { Config } from "./config/types.js";
import { createExternalForwarder } from "./forward/external/forward.js";
import { createOllamaForwarder } from "./forward/ollama.js";
import { createDrain } from "./http/drain.js";
import { createListener, type Listener, type TlsReload } from "./http/listener.js";
import { certificateWarnings, hostsOf } from "./http/tls.js";
import type { Logger } from "./log/app-log.js";
import type { ConfigStatus } from "./observe/health.js";
import { NO_TELEMETRY, type Telemetry } from "./observe/telemetry.js";
import { createPipeline } from "./pipeline.js";
import { createPolicies, type Policies, type PolicyRefusals } from "./policy/policies.js";
import { startUsageSnapshots } from "./policy/snapshot.js";
import { readTokensToday } from "./policy/today.js";
import { type Fleet, startFleet } from "./routing/fleet.js";
import { createScheduler } from "./schedule/scheduler.js";
import type { Scheduler, SchedulerSnapshot } from "./schedule/types.js";
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
   * Applies a new config (SIGHUP): every key that can change live, and the TLS files re-read;
   * the listener, the database and the log writers stay as started. Says which keys it
   * applied, which wait for a restart, and which failed (a certificate that does not load).
   * `logging.level` is applied by whoever owns the app log (serve: `AppLog.setLevel`).
   */
  reload(config: Config): AppliedReload;
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
  /** Requests Node's parser refused, by the status answered (for /metrics). */
  parserRefusals(): Readonly<Record<string, number>>;
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

/**
 * Starts the proxy: node:http (or node:https with `tls`, lib/http/listener.ts) with the request
 * pipeline (lib/pipeline.ts); this file keeps listen, reload and drain. Throws TlsFilesError
 * when the TLS files do not load.
 */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  let config = opts.config;
  // What the listener, the database and the log writers were opened with: the keys a reload cannot change.
  const boot = opts.config;
  const { store, log } = opts;
  const telemetry = opts.telemetry ?? NO_TELEMETRY;
  const startedAt = Date.now();
  const drain = createDrain();
  // First: TLS files that do not load stop the start before anything else is opened.
  const listener = createListener(
    config,
    (req, res) => {
      if (res.socket === null && tooManyQueued(req.socket, res)) return;
      drain.started();
      pipeline(req, res);
    },
    log,
  );
  const { server } = listener;
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
  let status: ConfigStatus = {
    file: config.file,
    env: config.env,
    loadedAt: startedAt,
    lastReload: null,
    needsRestart: [],
  };

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
    draining: drain.draining,
    requestEnded: drain.ended,
  });
  await fleet.ready();
  const { port, url } = await listener.listen(opts.port ?? config.proxyPort, config.bind);
  const servers = fleet.servers().map((s) => s.key);
  log.info(
    { port, bind: config.bind, tls: listener.scheme === "https", servers, env: config.env },
    "listening",
  );
  const live: Live = { listener, auth, scheduler, fleet, policies, store, log };

  return {
    port,
    url,
    fleet,
    auth,
    active: drain.active,
    reload(next) {
      const report = applyConfig(live, boot, config, next);
      config = next;
      trusted = blockList(next.trustedProxies);
      scheduled = anyParallel(next);
      status = reloadedStatus(status, report, Date.now());
      return report;
    },
    reloadFailed(error) {
      status = { ...status, lastReload: { kind: "failed", at: Date.now(), error } };
    },
    configStatus: () => status,
    authCounts: () => auth.counts(),
    policyRefusals: () => policies.refusals(),
    schedule: () => (scheduled ? scheduler.snapshot(fleet.servers()) : null),
    parserRefusals: () => listener.parserRefusals(),
    async close(graceMs = config.limits.shutdownGraceSeconds * 1000) {
      const finished = drain.finish(graceMs);
      // Nothing waiting in the proxy will be served: it gets its 503 now, not at the grace period's end.
      scheduler.close();
      server.closeIdleConnections();
      await finished;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      external.close();
      fleet.close();
      snapshots.close();
      auth.close();
    },
  };
}

/** The parts of a running server a reload reconfigures. */
interface Live {
  listener: Listener;
  auth: Auth;
  scheduler: Scheduler;
  fleet: Fleet;
  policies: Policies;
  store: Store;
  log: Logger;
}

/**
 * Applies `next` to every part that can change live and logs what it did: the keys applied,
 * those that wait for a restart (compared with `boot`, what the listener and the writers were
 * opened with), and a certificate that did not load.
 */
function applyConfig(live: Live, boot: Config, current: Config, next: Config): AppliedReload {
  const { listener, log } = live;
  const report = reloadCertificate(
    reloadReport(boot, current, next),
    listener.reloadTls(next.tls),
    next,
    log,
  );
  live.fleet.reconfigure(next);
  live.scheduler.reconfigure(next);
  live.policies.reload(next);
  // Requests are counted only under a policy: a quota defined by this reload starts from the log.
  live.policies.restore(readTokensToday(live.store.db, Date.now()), Date.now());
  live.auth.reconfigure({
    failuresPerMinute: next.limits.authFailuresPerMinute,
    blockSeconds: next.limits.authBlockSeconds,
  });
  listener.server.headersTimeout = next.limits.headersTimeoutMs;
  listener.server.requestTimeout = next.limits.requestTimeoutMs;
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
}

/** What /health says of the config after a reload that applied `report` at `now`. */
function reloadedStatus(status: ConfigStatus, report: AppliedReload, now: number): ConfigStatus {
  const { applied, failed, needsRestart } = report;
  return {
    ...status,
    loadedAt: now,
    lastReload: { kind: "applied", at: now, applied, failed },
    needsRestart,
  };
}

/** True when some enabled server has `parallel`: only then does a request pass the scheduler. */
function anyParallel(config: Config): boolean {
  return config.servers.some((s) => s.enabled && s.parallel !== null);
}

/**
 * The reload report with the certificate's outcome: `tls` is applied when the pair served
 * changed (a renewed file under the same path counts), and failed when the files do not load.
 */
function reloadCertificate(report: ReloadReport, tls: TlsReload, next: Config, log: Logger): AppliedReload {
  const applied = report.applied.filter((k) => k !== "tls");
  if (tls.kind === "applied") {
    applied.push("tls");
    const c = tls.pair.certificate;
    log.info(
      { subject: c.subject, validTo: c.validTo, fingerprint: c.fingerprint256 },
      "TLS certificate reloaded",
    );
    for (const w of certificateWarnings(tls.pair, next.tls?.cert ?? "", hostsOf(next.bind))) log.warn(w);
  }
  if (tls.kind !== "failed") return { ...report, applied, failed: [] };
  const error = tls.problems.join("; ");
  log.error({ problems: tls.problems }, "could not load the TLS certificate and key; the running pair stays");
  return { ...report, applied, failed: [{ key: "tls", error }] };
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
