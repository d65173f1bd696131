/** A terminal or pipe a command reads from (login's token); a TTY has setRawMode. */
export type Input = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(raw: boolean): unknown };

/** A terminal on the output, which a command may redraw in place (progress bars). */
export interface Terminal {
  readonly columns: number;
  /** Writes as it is: no newline added. */
  write(text: string): void;
}

/** Where a command writes; tests pass their own to read what a command printed. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Where a command reads input; absent: the process's stdin. */
  stdin?: Input;
  /** The output's terminal; absent when it goes to a pipe or a file. */
  readonly tty?: Terminal | undefined;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith("\n") ? text : `${text}\n`),
  get tty() {
    if (!process.stdout.isTTY) return undefined;
    return { columns: process.stdout.columns || 80, write: (text: string) => process.stdout.write(text) };
  },
};

/** Exit codes shared by every command. */
export const EXIT = { ok: 0, failure: 1, usage: 64, config: 78 } as const;

/** A command failed in a way the user can fix; main prints the message (no stack) and exits non-zero. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.failure) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}
