import { lstatSync, mkdirSync, readlinkSync, symlinkSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import type { ComponentHealth } from "../component.js";
import type { Config } from "../config/types.js";

export type Logger = pino.Logger;

/** The app log of a running proxy: the logger, whether its file can be written, and its close. */
export interface AppLog {
  readonly log: Logger;
  /**
   * The same log for the one line per request: without redaction, which costs more than the
   * rest of the line and finds nothing there (the line is built from the request-log record,
   * which holds no credential by construction).
   */
  readonly lines: Logger;
  /** For /health: degraded once the log file could not be written. */
  health(): ComponentHealth;
  /** Changes the level of both loggers (`logging.level` on SIGHUP). */
  setLevel(level: Config["logging"]["level"]): void;
  /** Writes what is buffered and stops the writer thread. */
  close(): Promise<void>;
}

/** The log folder cannot be used: the CLI prints the message (naming the folder) and exits non-zero. */
export class AppLogError extends Error {
  override name = "AppLogError";
}

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

/** Longest a log line waits in the writer's block before it reaches the file. */
const FLUSH_MS = 1000;

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
export function createAppLog(config: Config): AppLog {
  const plain = { level: config.logging.level, base: { pid: process.pid } };
  const options = { ...plain, redact: { paths: REDACT_PATHS, censor: "[redacted]" } };
  if (config.logging.dir === null) {
    const out = pino.destination({ dest: 1, sync: false });
    let failed: string | null = null;
    // A closed or broken stdout loses log lines; it must not take the proxy down.
    out.on("error", (err: NodeJS.ErrnoException) => {
      failed = err.code ?? err.message;
    });
    const log = pino(options, out);
    const lines = pino(plain, out);
    return {
      log,
      lines,
      setLevel: levelSetter(log, lines),
      close: async () => log.flush(),
      health: () => ({
        name: "app_log",
        ok: failed === null,
        ...(failed ? { detail: { error: failed } } : {}),
      }),
    };
  }
  const dir = config.logging.dir;
  const name = appLogName(config.env);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new AppLogError(
      `cannot create the log folder ${dir}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
  const transport = pino.transport({
    target: "pino-roll",
    options: {
      file: join(dir, name),
      frequency: "daily",
      dateFormat: "yyyy-MM-dd",
      mkdir: true,
      symlink: true,
      limit: { count: KEEP_FILES, removeOtherLogFiles: true },
      // Lines are written in blocks of up to 4 KB rather than one write(2) each: with one line
      // per request, a system call per line was most of what the app log cost. The timer
      // below writes what is waiting at least once a second, so `tail -F` stays current.
      minLength: 4096,
    },
  });
  // When the log file cannot be written (disk full, folder gone), pino-roll's worker dies and
  // its stream reports the error here: from then on lines go to stderr (the journal under
  // systemd), /health says the app log is degraded, and the proxy goes on serving.
  let failed: string | null = null;
  transport.on("error", (err: NodeJS.ErrnoException) => {
    if (failed !== null) return;
    failed = err.code ?? err.message;
    process.stderr.write(
      `${JSON.stringify({ level: 50, time: Date.now(), pid: process.pid, error: failed, file: join(dir, `${name}.log`), msg: "app log cannot be written; logging to stderr from now on" })}\n`,
    );
  });
  const sink = {
    write(line: string) {
      if (failed === null) {
        try {
          transport.write(line);
          return;
        } catch (err) {
          failed = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        }
      }
      process.stderr.write(line);
    },
    flush(cb: (err?: Error) => void) {
      if (failed === null) transport.flush(cb);
      else cb();
    },
  };
  const log = pino(options, sink as unknown as pino.DestinationStream);
  linkStableName(dir, name, log);
  // Flushes run one at a time: close() must see the last one through before it ends the
  // writer (a flush that reaches pino-roll after the end throws "SonicBoom destroyed" there).
  let flushed: Promise<void> = Promise.resolve();
  const flush = () => {
    flushed = flushed.then(() => new Promise<void>((r) => sink.flush(() => r())));
    return flushed;
  };
  const tick = setInterval(flush, FLUSH_MS);
  tick.unref();
  const lines = pino(plain, sink as unknown as pino.DestinationStream);
  return {
    log,
    lines,
    setLevel: levelSetter(log, lines),
    health: () => ({
      name: "app_log",
      ok: failed === null,
      ...(failed ? { detail: { error: failed, writing_to: "stderr" } } : {}),
    }),
    close: () =>
      new Promise<void>((resolve) => {
        if (failed !== null) {
          resolve();
          return;
        }
        clearInterval(tick);
        transport.once("close", () => resolve());
        // End only once every flush is through, and hold the worker until it closed: pino
        // unrefs it, so otherwise the process may exit before the last line is written.
        flush().then(() => {
          // thread-stream has ref() (its typings omit it).
          (transport as unknown as { ref(): void }).ref();
          transport.end();
        });
      }),
  };
}

function levelSetter(...loggers: Logger[]): AppLog["setLevel"] {
  return (level) => {
    for (const l of loggers) l.level = level;
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
