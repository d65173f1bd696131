import { lstatSync, mkdirSync, readlinkSync, symlinkSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import type { Config } from "../config/types.js";

export type Logger = pino.Logger;

/** Paths pino blanks out wherever they appear in a log record: credentials never reach a log. */
export const REDACT_PATHS = [
  "authorization",
  "*.authorization",
  "headers.authorization",
  "headers.cookie",
  "*.headers.authorization",
  "*.headers.cookie",
  "cookie",
  "token",
  "*.token",
  "apiKey",
  "*.apiKey",
  "api_key",
  "*.api_key",
  'headers["x-api-key"]',
  'headers["proxy-authorization"]',
];

/** What pino-roll keeps: the live daily file and this many before it. */
const KEEP_FILES = 14;

/**
 * The application log: pino JSON lines, written by pino-roll in pino's worker thread, or to
 * stdout when `logging.dir` is null. pino-roll always numbers its files, so in `logging.dir`
 * there are daily files `<name>.<yyyy-MM-dd>.<n>.log` (`<name>` = `application` in production,
 * else the environment name), pino-roll's `current.log` symlink to the live one, and our
 * `<name>.log` symlink to `current.log`, so that the name operators expect (`log/development.log`,
 * `/var/log/ollama-proxy/application.log`) always reaches the live file (`tail -F` follows it
 * across days).
 */
export function createAppLog(config: Config): { log: Logger; close(): Promise<void> } {
  const options = {
    level: config.logging.level,
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
  };
  if (config.logging.dir === null) {
    const log = pino(options, pino.destination({ dest: 1, sync: false }));
    return { log, close: async () => log.flush() };
  }
  const dir = config.logging.dir;
  const name = appLogName(config.env);
  mkdirSync(dir, { recursive: true });
  const transport = pino.transport({
    target: "pino-roll",
    options: {
      file: join(dir, name),
      frequency: "daily",
      dateFormat: "yyyy-MM-dd",
      mkdir: true,
      symlink: true,
      limit: { count: KEEP_FILES, removeOtherLogFiles: true },
    },
  });
  const log = pino(options, transport);
  linkStableName(dir, name, log);
  return {
    log,
    close: () =>
      new Promise<void>((resolve) => {
        transport.once("close", () => resolve());
        // End only once the flush is through (a flush that reaches pino-roll after the end
        // throws "SonicBoom destroyed" in its worker), and hold the worker until it closed:
        // pino unrefs it, so otherwise the process may exit before the last line is written.
        log.flush(() => {
          // thread-stream has ref() (its typings omit it).
          (transport as unknown as { ref(): void }).ref();
          transport.end();
        });
      }),
  };
}

/** The base name of the app log files: `application` in production (the .deb), else the environment. */
export function appLogName(env: string): string {
  return env === "production" ? "application" : env;
}

/**
 * Points `<dir>/<name>.log` at pino-roll's `current.log` (a relative link, so the folder can
 * move). A regular file of that name (an operator's own) is left alone.
 */
function linkStableName(dir: string, name: string, log: Logger): void {
  const link = join(dir, `${name}.log`);
  try {
    const st = lstatSync(link, { throwIfNoEntry: false });
    if (st?.isSymbolicLink() && readlinkSync(link) === CURRENT) return;
    if (st !== undefined && !st.isSymbolicLink()) {
      log.warn({ file: link }, "a file is in the way of the app log link; the live log is current.log");
      return;
    }
    if (st !== undefined) unlinkSync(link);
    symlinkSync(CURRENT, link);
  } catch (err) {
    log.warn({ file: link, error: (err as Error).message }, "could not link the app log name to current.log");
  }
}

/** The symlink pino-roll keeps pointing at its live file. */
const CURRENT = "current.log";

/** A logger that writes nowhere, for tests and for CLI commands that do not serve. */
export function silentLog(): Logger {
  return pino({ level: "silent" });
}
