import { ConfigError, loadConfig } from "../config/load.js";
import { type AppliedReload, describeRestartKey } from "../config/reload.js";
import type { Config } from "../config/types.js";
import { TlsFilesError } from "../http/listener.js";
import { certificateWarnings, hostsOf, readTlsPair } from "../http/tls.js";
import { type AppLog, AppLogError, type AppLogOptions, createAppLog } from "../log/app-log.js";
import { createTelemetry } from "../observe/telemetry.js";
import { type RunningServer, startServer } from "../server.js";
import type { Store } from "../store/open.js";
import { VERSION } from "../version.js";
import { actAsDataOwner, loadOrFail, openOrFail } from "./common.js";
import { CliError, EXIT, type Io } from "./io.js";
import { removeRuntimeFile, runtimeFilePath, writeRuntimeFile } from "./runtime-file.js";

/**
 * `ollama-proxy serve`: runs in the foreground until SIGTERM or SIGINT (what systemd runs).
 * SIGHUP re-reads the config; a bad file is reported and the running config stays. On a
 * terminal the app log is also printed there, readable; the bound address goes to a runtime
 * file in the state folder for `health`, and is removed on exit.
 */
export async function serve(args: { config?: string; env?: string; port?: number }, io: Io): Promise<number> {
  const { config, warnings: configWarnings } = loadOrFail(args);
  actAsDataOwner(config.database);
  // As the service's user (above): a key only root can read stops the start here, with nothing opened.
  const warnings = [...configWarnings, ...tlsWarnings(config)];
  // Held until the server listens: a start that fails leaves no line in a log that the
  // instance already running writes to.
  const appLog = openAppLog(config, { held: true, terminal: io.terminal ?? null });
  const { log } = appLog;
  // With the log on this terminal, its lines say what happens; otherwise (the journal, a
  // pipe) the lifecycle gets one plain line on stderr each.
  const say = io.terminal === undefined ? (text: string) => io.err(text) : () => {};
  for (const w of warnings) {
    io.err(`warning: ${w}`);
    log.warn(w);
  }
  const failed = async (err: unknown): Promise<never> => {
    appLog.discard();
    await appLog.close();
    throw err;
  };
  let store: Store;
  try {
    store = openOrFail(config.database);
  } catch (err) {
    return failed(err);
  }
  const telemetry = createTelemetry({ config, log, lines: appLog.lines, appLog });
  const port = args.port ?? config.proxyPort;
  let server: RunningServer;
  try {
    server = await startServer({ config, store, log, telemetry, port: args.port });
  } catch (err) {
    await telemetry.close();
    store.close();
    return failed(startFailure(err, config.bind, port));
  }
  // Caught from here on: a stop sent as soon as the start line appears must drain, not kill.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  // SIGHUP too: until a handler is installed, the kernel's default for it ends the process,
  // and a reload may be sent as soon as the start line appears.
  let level = config.logging.level;
  const onHup = () => {
    try {
      const next = loadConfig({ file: config.file, env: config.env });
      for (const w of next.warnings) log.warn(w);
      const report = server.reload(next.config);
      telemetry.reload(next.config);
      if (next.config.logging.level !== level) {
        appLog.setLevel(next.config.logging.level);
        log.info({ from: level, to: next.config.logging.level }, "log level changed");
        level = next.config.logging.level;
      }
      say(`ollama-proxy: ${describeReload(report, config, next.config)}`);
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
      server.reloadFailed(problems.join("; "));
      log.error({ file: config.file, problems }, "config reload failed; the running config stays");
      say(
        `ollama-proxy: config reload of ${config.file} failed; the running config stays:\n  ${problems.join("\n  ")}`,
      );
    }
  };
  process.on("SIGHUP", onHup);
  appLog.release();
  telemetry.attach(server.fleet, server);
  const runtime = runtimeFilePath(config.database, config.env);
  try {
    writeRuntimeFile(runtime, {
      url: server.url,
      pid: process.pid,
      env: config.env,
      config: config.file,
      database: config.database,
      version: VERSION,
      started_at: new Date().toISOString(),
    });
  } catch (err) {
    log.warn(
      { file: runtime, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message },
      "could not write the runtime file; `ollama-proxy health` will use the config's address",
    );
  }
  log.info({ version: VERSION, url: server.url, database: config.database }, "ollama-proxy started");
  io.err(`ollama-proxy ${VERSION} listening on ${server.url} [${config.env}]`);
  if (store.users.list().length === 0) {
    // The same config flags as this start, so the user lands in this instance's database.
    const flags = [args.config && ` --config ${args.config}`, args.env && ` --env ${args.env}`].join("");
    const hint = `no users yet: create one with \`${io.command ?? "ollama-proxy"} users create NAME --admin${flags}\` (it prints the API token)`;
    io.err(hint);
    log.warn(hint);
  }

  const signal = await stopSignal;
  process.off("SIGHUP", onHup);
  log.info({ signal, active: server.active() }, "shutting down");
  say(`ollama-proxy: ${signal}: shutting down (${server.active()} request(s) running)`);
  // Reverse order of opening: the server drains its streams (each records itself), the
  // request-log writer writes everything queued, then the database and the app log close.
  await server.close();
  removeRuntimeFile(runtime);
  await telemetry.close();
  store.close();
  log.info("stopped");
  say("ollama-proxy: stopped");
  await appLog.close();
  return 0;
}

/** The foreground's line about a reload: what it applied, what failed, and what waits for a restart. */
function describeReload(report: AppliedReload, boot: Config, next: Config): string {
  const applied = report.applied.length === 0 ? "nothing changed" : `applied ${report.applied.join(", ")}`;
  const lines = [`config reloaded from ${next.file}: ${applied}`];
  for (const f of report.failed) {
    const stays = f.key === "tls" ? "the running certificate stays" : "its running value stays";
    lines.push(`  could not apply ${f.key}; ${stays}: ${f.error}`);
  }
  if (report.needsRestart.length > 0) {
    const keys = report.needsRestart.map((k) => describeRestartKey(k, boot, next));
    lines.push(`  needs a restart to apply: ${keys.join(", ")}`);
  }
  return lines.join("\n");
}

/**
 * Reads the TLS files as the server will: a problem stops the start in one line (exit 78);
 * a certificate that expires soon or names another host is a warning.
 */
function tlsWarnings(config: Config): string[] {
  if (config.tls === null) return [];
  const read = readTlsPair(config.tls);
  if (read.kind === "failed") throw new CliError(new TlsFilesError(read.problems).message, EXIT.config);
  return certificateWarnings(read.pair, config.tls.cert, hostsOf(config.bind)).map(
    (w) => `${config.env}.${w}`,
  );
}

/** The app log, or a CLI error naming the folder that cannot be used. */
function openAppLog(config: Config, opts: AppLogOptions): AppLog {
  try {
    return createAppLog(config, opts);
  } catch (err) {
    if (err instanceof AppLogError) throw new CliError(err.message);
    throw err;
  }
}

/** Why the server could not listen, in one line an operator can act on; anything else as it is. */
export function startFailure(err: unknown, bind: string, port: number): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case "EADDRINUSE":
      return new CliError(`port ${port} on ${bind} is in use (another ollama-proxy, or Ollama itself?)`);
    case "EACCES":
      return new CliError(
        `cannot listen on port ${port} on ${bind}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)`,
      );
    case "EADDRNOTAVAIL":
      return new CliError(
        `cannot listen on ${bind}: no such address on this machine (see bind in the config)`,
      );
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new CliError(`cannot listen on ${bind}: the name does not resolve (see bind in the config)`);
    default:
      // The files changed between the check above and the listener reading them.
      if (err instanceof TlsFilesError) return new CliError(err.message, EXIT.config);
      return err;
  }
}
