import { ConfigError, loadConfig } from "../config/load.js";
import { describeRestartKey, type ReloadReport } from "../config/reload.js";
import type { Config } from "../config/types.js";
import { type AppLog, AppLogError, createAppLog } from "../log/app-log.js";
import { createTelemetry } from "../observe/telemetry.js";
import { startServer } from "../server.js";
import { VERSION } from "../version.js";
import { actAsDataOwner, loadOrFail, openOrFail } from "./common.js";
import { CliError, type Io } from "./io.js";

/**
 * `ollama-proxy serve`: runs in the foreground until SIGTERM or SIGINT (what systemd runs).
 * SIGHUP re-reads the config; a bad file is reported and the running config stays.
 */
export async function serve(args: { config?: string; env?: string; port?: number }, io: Io): Promise<number> {
  const { config, warnings } = loadOrFail(args);
  actAsDataOwner(config);
  const appLog = openAppLog(config);
  const { log } = appLog;
  for (const w of warnings) {
    io.err(`warning: ${w}`);
    log.warn(w);
  }
  const store = openOrFail(config.database);
  const telemetry = createTelemetry({ config, log, lines: appLog.lines, appLog });
  const server = await startServer({ config, store, log, telemetry, port: args.port }).catch(
    async (err: Error) => {
      await telemetry.close();
      store.close();
      await appLog.close();
      throw err;
    },
  );
  telemetry.attach(server.fleet, server);
  log.info({ version: VERSION, url: server.url, database: config.database }, "ollama-proxy started");
  io.err(`ollama-proxy ${VERSION} listening on ${server.url} [${config.env}]`);
  if (store.users.list().length === 0) {
    const hint =
      "no users yet: create one with `ollama-proxy users create NAME --admin` (it prints the API token)";
    io.err(hint);
    log.warn(hint);
  }

  const onHup = () => {
    try {
      const next = loadConfig({ file: config.file, env: config.env });
      for (const w of next.warnings) log.warn(w);
      appLog.setLevel(next.config.logging.level);
      const report = server.reload(next.config);
      telemetry.reload(next.config);
      io.err(describeReload(report, config, next.config));
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
      server.reloadFailed(problems.join("; "));
      log.error({ file: config.file, problems }, "config reload failed; the running config stays");
      io.err(`config reload failed; the running config stays:\n  ${problems.join("\n  ")}`);
    }
  };
  process.on("SIGHUP", onHup);

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  process.off("SIGHUP", onHup);
  log.info({ signal, active: server.active() }, "shutting down");
  // Reverse order of opening: the server drains its streams (each records itself), the
  // request-log writer writes everything queued, then the database and the app log close.
  await server.close();
  await telemetry.close();
  store.close();
  log.info("stopped");
  await appLog.close();
  return 0;
}

/** The foreground's line about a reload: what it applied, and what waits for a restart. */
function describeReload(report: ReloadReport, boot: Config, next: Config): string {
  const applied = report.applied.length === 0 ? "nothing changed" : `applied ${report.applied.join(", ")}`;
  const lines = [`config reloaded from ${next.file}: ${applied}`];
  if (report.needsRestart.length > 0) {
    const keys = report.needsRestart.map((k) => describeRestartKey(k, boot, next));
    lines.push(`  needs a restart to apply: ${keys.join(", ")}`);
  }
  return lines.join("\n");
}

/** The app log, or a CLI error naming the folder that cannot be used. */
function openAppLog(config: Config): AppLog {
  try {
    return createAppLog(config);
  } catch (err) {
    if (err instanceof AppLogError) throw new CliError(err.message);
    throw err;
  }
}
