/** A terminal or pipe a command reads from (login's token); a TTY has setRawMode. */
export type Input = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(raw: boolean): unknown };

/** Where a command writes; tests pass their own to read what a command printed. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Where a command reads input; absent: the process's stdin. */
  stdin?: Input;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith("\n") ? text : `${text}\n`),
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
