import { mkdirSync } from "node:fs";
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

/**
 * The application log: pino JSON lines, written by pino-roll in pino's worker thread to
 * `<logging.dir>/<name>.N.log` (daily files), or to stdout when `logging.dir` is null.
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
  const name = config.env === "production" ? "application" : config.env;
  // pino-roll links current.log while SonicBoom may still be creating a missing folder
  // (its mkdir is asynchronous), which crashed start-up at random: create it first.
  mkdirSync(config.logging.dir, { recursive: true });
  const transport = pino.transport({
    target: "pino-roll",
    options: {
      file: join(config.logging.dir, name),
      frequency: "daily",
      mkdir: true,
      symlink: true,
      limit: { count: 14 },
    },
  });
  const log = pino(options, transport);
  return {
    log,
    close: () =>
      new Promise<void>((resolve) => {
        // pino unrefs its worker once it is ready, so nothing would keep the process alive
        // until the worker has written its last lines and exited (the process ended first,
        // with exit code 13): this timer does, for at most 10 s.
        const keepAlive = setTimeout(resolve, 10_000);
        transport.once("close", () => {
          clearTimeout(keepAlive);
          resolve();
        });
        // End once the worker has flushed: a flush still queued when the file closes makes
        // thread-stream throw "SonicBoom destroyed", which killed the process on SIGTERM.
        log.flush(() => transport.end());
      }),
  };
}

/** A logger that writes nowhere, for tests and for CLI commands that do not serve. */
export function silentLog(): Logger {
  return pino({ level: "silent" });
}
