import { existsSync, realpathSync } from "node:fs";
import { delimiter, isAbsolute, join, relative, resolve, sep } from "node:path";

/** A terminal or pipe a command reads from (login's token); a TTY has setRawMode. */
export type Input = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(raw: boolean): unknown };

/** Where a command writes; tests pass their own to read what a command printed. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Where a command reads input; absent: the process's stdin. */
  stdin?: Input;
  /**
   * Present only when stderr is a terminal: one status line rewritten in place (a long
   * report's progress); null clears it. Scripts and pipes never see it.
   */
  progress?(line: string | null): void;
  /** Present only when stdout is a terminal: where `serve` prints its log for people. */
  terminal?: Terminal;
  /** How hints write this CLI (see commandName); absent: `ollama-proxy`. */
  command?: string;
}

/** A terminal to print to (it may be redrawn in place: progress bars), and whether it may be coloured. */
export interface Terminal {
  /** Writes as it is: no newline added. */
  write(text: string): void;
  readonly colors: boolean;
  readonly columns: number;
}

const lineOf = (text: string) => (text.endsWith("\n") ? text : `${text}\n`);

export const processIo: Io = {
  get command() {
    return commandName();
  },
  out: (text) => process.stdout.write(lineOf(text)),
  err: (text) => process.stderr.write(lineOf(text)),
  ...(process.stderr.isTTY
    ? {
        progress: (line: string | null) => {
          // \r and "erase to end of line": the line is rewritten, never scrolled.
          process.stderr.write(line === null ? "\r\x1b[K" : `\r\x1b[K${line}`);
        },
      }
    : {}),
  ...(process.stdout.isTTY
    ? {
        terminal: {
          write: (text: string) => process.stdout.write(text),
          // https://no-color.org: any non-empty NO_COLOR turns colours off.
          colors: !process.env["NO_COLOR"],
          get columns() {
            return process.stdout.columns || 80;
          },
        },
      }
    : {}),
};

/**
 * Exit codes shared by every command (documented in the man page): 2 is `health`'s "down or
 * unreachable"; 64 and 78 are sysexits.h's EX_USAGE and EX_CONFIG.
 */
export const EXIT = { ok: 0, failure: 1, down: 2, usage: 64, config: 78 } as const;

/**
 * The message of every command group's `demandCommand`: main recognises it and prints that
 * group's help instead of an error (a bare `ollama-proxy users` asks what there is).
 */
export const NO_SUBCOMMAND = "no command given";

/** A command failed in a way the user can fix; main prints the message (no stack) and exits non-zero. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.failure) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** Where the Debian package keeps the CLI that /usr/bin/ollama-proxy runs. */
const PACKAGED_CLI = "/usr/lib/ollama-proxy/bin/ollama-proxy";

/**
 * How to write this CLI in a hint the user can paste: `ollama-proxy` when that is what their
 * shell runs (on PATH, or the package's wrapper), else `node PATH` as they ran it from a
 * checkout (`npm start` puts no `ollama-proxy` on PATH).
 */
export function commandName(
  argv: readonly string[] = process.argv,
  path: string = process.env.PATH ?? "",
  cwd: string = process.cwd(),
): string {
  const script = argv[1];
  if (script === undefined) return "ollama-proxy";
  const file = resolve(cwd, script);
  // `node -e` leaves no script: argv[1] is the first argument.
  if (!existsSync(file)) return "ollama-proxy";
  const real = realOrSelf(file);
  if (real === PACKAGED_CLI) return "ollama-proxy";
  for (const dir of path.split(delimiter)) {
    if (dir === "") continue;
    const onPath = join(dir, "ollama-proxy");
    if (existsSync(onPath) && realOrSelf(onPath) === real) return "ollama-proxy";
  }
  const rel = relative(cwd, real);
  const shown = rel === "" || rel.startsWith(`..${sep}`) || isAbsolute(rel) ? real : rel;
  return `node ${shown}`;
}

function realOrSelf(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}
