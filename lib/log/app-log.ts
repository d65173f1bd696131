import { accessSync, constants, lstatSync, mkdirSync, readlinkSync, symlinkSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import type { ComponentHealth } from "../component.js";
import type { Config } from "../config/types.js";
import { prettyLine } from "./pretty.js";

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
  /** Applies a reloaded `logging.level` (SIGHUP). */
  setLevel(level: Config["logging"]["level"]): void;
  /** Starts writing what was held (see AppLogOptions.held), and everything after it. */
  release(): void;
  /** Drops what was held and everything after it: the start failed. */
  discard(): void;
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

/** A terminal that `serve` in the foreground prints readable lines to. */
export interface TerminalSink {
  write(text: string): void;
  readonly colors: boolean;
}

export interface AppLogOptions {
  /**
   * Also print each line, readable (lib/log/pretty.ts), to this terminal; with `logging.dir`
   * null, instead of JSON on stdout. Files and pipes always get JSON.
   */
  terminal?: TerminalSink | null;
  /**
   * Keep lines in memory, and leave the log file alone, until `release()`: a start that
   * fails (the port is taken by the instance already running) then writes no line into the
   * log that instance is writing; `discard()` drops them.
   */
  held?: boolean;
}

/** Keys whose numbers are durations (`…Ms`, `…_ms`) or rates (`…PerS`): written rounded to 0.1. */
const ROUNDED = /(?:Ms|_ms|PerS|_per_s)$/;

/**
 * pino's per-record hook: `durationMs: 334.5`, not `334.53257900000006`. The caller's object
 * is copied before it is changed (it may be frozen, or still in use).
 */
export function roundDurations(obj: Record<string, unknown>): Record<string, unknown> {
  let out = obj;
  for (const key in obj) {
    const v = obj[key];
    if (typeof v === "number" && !Number.isInteger(v) && ROUNDED.test(key)) {
      if (out === obj) out = { ...obj };
      out[key] = Math.round(v * 10) / 10;
    }
  }
  return out;
}

/** Where the JSON lines go: stdout, the daily files, or (on a terminal with no folder) nowhere but the terminal. */
interface Target {
  /** Starts writing (the file target opens its file here). */
  open(log: Logger): void;
  write(line: string): void;
  flush(cb: (err?: Error) => void): void;
  health(): ComponentHealth;
  close(): Promise<void>;
}

/**
 * The application log: pino JSON lines (ISO times, durations rounded), written by pino-roll
 * in pino's worker thread, or to stdout when `logging.dir` is null. pino-roll always numbers
 * its files, so in `logging.dir` there are daily files `<name>.<yyyy-MM-dd>.<n>.log` (`<name>`
 * = `application` in production, else the environment name), pino-roll's `current.log`
 * symlink to the live one, and our `<name>.log` symlink to `current.log`, so that the name
 * operators expect (`log/development.log`, `/var/log/ollama-proxy/application.log`) always
 * reaches the live file (`tail -F` follows it across days).
 */
export function createAppLog(config: Config, opts: AppLogOptions = {}): AppLog {
  const plain = {
    level: config.logging.level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { log: roundDurations },
  };
  const options = { ...plain, redact: { paths: REDACT_PATHS, censor: "[redacted]" } };
  const terminal = opts.terminal ?? null;
  const target =
    config.logging.dir !== null
      ? fileTarget(config.logging.dir, appLogName(config.env))
      : terminal !== null
        ? nowhere()
        : stdoutTarget();
  let held: string[] | null = opts.held ? [] : null;
  let discarded = false;
  const sink = {
    write(line: string) {
      if (discarded) return;
      if (held !== null) {
        held.push(line);
        return;
      }
      target.write(line);
      terminal?.write(prettyLine(line, terminal.colors));
    },
    flush(cb: (err?: Error) => void) {
      if (held !== null || discarded) cb();
      else target.flush(cb);
    },
  };
  const log = pino(options, sink as unknown as pino.DestinationStream);
  const lines = pino(plain, sink as unknown as pino.DestinationStream);
  let opened = false;
  const open = () => {
    opened = true;
    target.open(log);
  };
  if (held === null) open();
  return {
    log,
    lines,
    health: () => target.health(),
    setLevel(level) {
      log.level = level;
      lines.level = level;
    },
    release() {
      if (held === null || discarded) return;
      // Opened while still holding: what opening logs (a link that could not be made) follows the held lines.
      open();
      const pending = held;
      held = null;
      for (const line of pending) sink.write(line);
    },
    discard() {
      discarded = true;
      held = null;
    },
    close: () => (opened ? target.close() : Promise.resolve()),
  };
}

/** JSON lines on stdout (`logging.dir: null`): the journal keeps them under systemd. */
function stdoutTarget(): Target {
  const out = pino.destination({ dest: 1, sync: false });
  let failed: string | null = null;
  // A closed or broken stdout loses log lines; it must not take the proxy down.
  out.on("error", (err: NodeJS.ErrnoException) => {
    failed = err.code ?? err.message;
  });
  return {
    open() {},
    write: (line) => out.write(line),
    flush: (cb) => out.flush(cb),
    health: () => ({
      name: "app_log",
      ok: failed === null,
      ...(failed ? { detail: { error: failed } } : {}),
    }),
    close: () =>
      new Promise<void>((resolve) => {
        if (failed !== null) return resolve();
        out.flush(() => resolve());
      }),
  };
}

/** `logging.dir: null` on a terminal: the readable lines are all there is. */
function nowhere(): Target {
  return {
    open() {},
    write() {},
    flush: (cb) => cb(),
    health: () => ({ name: "app_log", ok: true }),
    close: async () => {},
  };
}

/** The daily files in `dir`, written by pino-roll in its worker thread; stderr when they cannot be. */
function fileTarget(dir: string, name: string): Target {
  try {
    mkdirSync(dir, { recursive: true });
    // A folder that exists but cannot be written would only fail in pino-roll's thread,
    // later: say so now, in one line (root passes this check, and is turned into the
    // folder's owner before the log is opened; see actAsDataOwner).
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new AppLogError(
      `cannot write to the log folder ${dir}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
  let transport: ReturnType<typeof pino.transport> | null = null;
  // When the log file cannot be written (disk full, folder gone), pino-roll's worker dies and
  // its stream reports the error: from then on lines go to stderr (the journal under
  // systemd), /health says the app log is degraded, and the proxy goes on serving.
  let failed: string | null = null;
  let tick: NodeJS.Timeout | null = null;
  // Flushes run one at a time: close() must see the last one through before it ends the
  // writer (a flush that reaches pino-roll after the end throws "SonicBoom destroyed" there).
  let flushed: Promise<void> = Promise.resolve();
  const flushOnce = (cb: (err?: Error) => void) => {
    if (transport !== null && failed === null) transport.flush(cb);
    else cb();
  };
  const flush = () => {
    flushed = flushed.then(() => new Promise<void>((r) => flushOnce(() => r())));
    return flushed;
  };
  return {
    open(log) {
      const t = pino.transport({
        target: "pino-roll",
        options: {
          file: join(dir, name),
          frequency: "daily",
          dateFormat: "yyyy-MM-dd",
          mkdir: true,
          symlink: true,
          limit: { count: KEEP_FILES, removeOtherLogFiles: true },
          // Lines are written in blocks of up to 4 KB rather than one write(2) each: with one
          // line per request, a system call per line was most of what the app log cost. The
          // timer below writes what is waiting at least once a second, so `tail -F` stays current.
          minLength: 4096,
        },
      });
      t.on("error", (err: NodeJS.ErrnoException) => {
        if (failed !== null) return;
        failed = err.code ?? err.message;
        process.stderr.write(
          `${JSON.stringify({ level: 50, time: new Date().toISOString(), pid: process.pid, error: failed, file: join(dir, `${name}.log`), msg: "app log cannot be written; logging to stderr from now on" })}\n`,
        );
      });
      transport = t;
      linkStableName(dir, name, log);
      tick = setInterval(flush, FLUSH_MS);
      tick.unref();
    },
    write(line) {
      if (transport !== null && failed === null) {
        try {
          transport.write(line);
          return;
        } catch (err) {
          failed = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        }
      }
      process.stderr.write(line);
    },
    flush: flushOnce,
    health: () => ({
      name: "app_log",
      ok: failed === null,
      ...(failed ? { detail: { error: failed, writing_to: "stderr" } } : {}),
    }),
    close: () =>
      new Promise<void>((resolve) => {
        const t = transport;
        if (t === null || failed !== null) {
          resolve();
          return;
        }
        if (tick !== null) clearInterval(tick);
        t.once("close", () => resolve());
        // End only once every flush is through, and hold the worker until it closed: pino
        // unrefs it, so otherwise the process may exit before the last line is written.
        flush().then(() => {
          // thread-stream has ref() (its typings omit it).
          (t as unknown as { ref(): void }).ref();
          t.end();
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
