import type { Json } from "../json.js";
import type { Io, Terminal } from "./io.js";

/** How one server's pull ended. */
export type PullOutcome =
  | { readonly kind: "done"; readonly bytes: number; readonly seconds: number }
  | { readonly kind: "failed"; readonly error: string };

/** What `models pull` shows while servers pull in parallel. */
export interface PullView {
  /** A server named for the pull that refuses it (the model does not fit its max_memory_gb): a failure. */
  refused(server: string, reason: string): void;
  /** A server `--all` leaves out, and why: not a failure. */
  skipped(server: string, reason: string): void;
  /** A server that pulls although it should not (`--force`), and why it should not. */
  forced(server: string, reason: string): void;
  /** The servers about to pull, in the order they are shown. */
  start(servers: readonly string[]): void;
  /** One progress line of a server's pull, as Ollama streams it. */
  progress(server: string, line: Json): void;
  finished(server: string, outcome: PullOutcome): void;
  /** Draws the final state; nothing is drawn after it. */
  close(): void;
}

/** Progress bars on a terminal; JSON lines on a pipe or a file, or when asked for (`--json`). */
export function pullView(io: Io, json: boolean): PullView {
  return !json && io.terminal !== undefined ? new Bars(io.terminal) : new JsonLines(io);
}

/** What a server's pull has done so far: bytes per layer (Ollama reports each layer on its own). */
class PullState {
  status = "waiting";
  readonly layers = new Map<string, { total: number; completed: number }>();
  /** [ms, bytes] samples of the last few seconds, for the rate. */
  readonly samples: [number, number][] = [];
  outcome: PullOutcome | null = null;

  constructor(readonly started: number) {}

  note(line: Json, now: number): void {
    if (typeof line.status === "string") this.status = line.status;
    const { digest, total, completed } = line;
    if (typeof digest === "string" && typeof total === "number") {
      this.layers.set(digest, { total, completed: typeof completed === "number" ? completed : 0 });
      this.samples.push([now, this.bytes().done]);
      while (this.samples.length > 2 && now - this.samples[0]![0] > RATE_WINDOW_MS) this.samples.shift();
    }
  }

  bytes(): { done: number; total: number } {
    let done = 0;
    let total = 0;
    for (const l of this.layers.values()) {
      done += l.completed;
      total += l.total;
    }
    return { done, total };
  }

  /** Bytes per second over the last few seconds; null before two samples. */
  rate(): number | null {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (first === undefined || last === undefined || last[0] <= first[0]) return null;
    return ((last[1] - first[1]) * 1000) / (last[0] - first[0]);
  }
}

/** The rate is the average over this window: steady enough to read, recent enough to mean something. */
const RATE_WINDOW_MS = 5000;
/** Redraws at most this often: a pull streams many lines a second per server. */
const REDRAW_MS = 100;
const BAR_WIDTH = 24;

/**
 * One line per server, redrawn in place: the block is printed once, and each redraw moves
 * the cursor back up over it (ANSI CSI `n A`) and rewrites every line (CSI `2K` clears it).
 * Lines are cut to the terminal's width so that none wraps and throws the count off.
 */
class Bars implements PullView {
  private readonly states = new Map<string, PullState>();
  private order: readonly string[] = [];
  private drawn = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly tty: Terminal) {}

  refused(server: string, reason: string): void {
    this.tty.write(`${server}: ✘ refused: ${reason}\n`);
  }

  skipped(server: string, reason: string): void {
    this.tty.write(`${server}: skipped: ${reason}\n`);
  }

  forced(server: string, reason: string): void {
    this.tty.write(`${server}: pulling anyway (--force): ${reason}\n`);
  }

  start(servers: readonly string[]): void {
    const now = Date.now();
    this.order = servers;
    for (const s of servers) this.states.set(s, new PullState(now));
    this.draw();
  }

  progress(server: string, line: Json): void {
    this.states.get(server)?.note(line, Date.now());
    this.schedule();
  }

  finished(server: string, outcome: PullOutcome): void {
    const s = this.states.get(server);
    if (s !== undefined) s.outcome = outcome;
    this.schedule();
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.draw();
    this.closed = true;
  }

  private schedule(): void {
    if (this.timer !== null || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.draw();
    }, REDRAW_MS);
  }

  private draw(): void {
    if (this.closed) return;
    const width = Math.max(40, this.tty.columns) - 1;
    const nameWidth = Math.max(...this.order.map((s) => s.length), 4);
    const lines = this.order.map((server) => {
      const text = `${server.padEnd(nameWidth)}  ${barLine(this.states.get(server)!)}`;
      return `\x1b[2K${text.length > width ? `${text.slice(0, width - 1)}…` : text}\n`;
    });
    const up = this.drawn > 0 ? `\x1b[${this.drawn}A` : "";
    this.tty.write(up + lines.join(""));
    this.drawn = lines.length;
  }
}

/** `[████████░░░░]  45%  2.1 GB/4.7 GB  85 MB/s  ETA 31s  pulling 8eeb52dfb3bb`, or how it ended. */
function barLine(s: PullState): string {
  const o = s.outcome;
  if (o?.kind === "done") return `✔ done: ${formatBytes(o.bytes)} in ${formatSeconds(o.seconds)}`;
  if (o?.kind === "failed") return `✘ failed: ${o.error}`;
  const { done, total } = s.bytes();
  if (total === 0) return `[${"░".repeat(BAR_WIDTH)}]  ${s.status}`;
  const share = Math.min(1, done / total);
  const filled = Math.round(share * BAR_WIDTH);
  const rate = s.rate();
  const eta = rate !== null && rate > 0 ? formatSeconds((total - done) / rate) : "--";
  const pct = `${Math.floor(share * 100)}%`.padStart(4);
  const speed = rate === null ? "--" : `${formatBytes(rate)}/s`;
  return `[${"█".repeat(filled)}${"░".repeat(BAR_WIDTH - filled)}] ${pct}  ${formatBytes(done)}/${formatBytes(total)}  ${speed}  ETA ${eta}  ${s.status}`;
}

/**
 * One JSON object per line: Ollama's progress lines with the server's name, at most one a
 * second per server (plus every change of status), then one result per server. What a script
 * or a log file wants; a terminal gets the bars.
 */
class JsonLines implements PullView {
  private readonly last = new Map<string, { at: number; status: unknown }>();

  constructor(private readonly io: Io) {}

  refused(server: string, reason: string): void {
    this.io.out(JSON.stringify({ server, result: "refused", reason }));
  }

  skipped(server: string, reason: string): void {
    this.io.out(JSON.stringify({ server, result: "skipped", reason }));
  }

  forced(server: string, reason: string): void {
    this.io.out(JSON.stringify({ server, forced: reason }));
  }

  start(): void {}

  progress(server: string, line: Json): void {
    const now = Date.now();
    const prev = this.last.get(server);
    if (prev !== undefined && prev.status === line.status && now - prev.at < 1000) return;
    this.last.set(server, { at: now, status: line.status });
    this.io.out(JSON.stringify({ server, ...line }));
  }

  finished(server: string, outcome: PullOutcome): void {
    this.io.out(
      JSON.stringify(
        outcome.kind === "done"
          ? {
              server,
              result: "success",
              bytes: outcome.bytes,
              seconds: Math.round(outcome.seconds * 10) / 10,
            }
          : { server, result: "failed", error: outcome.error },
      ),
    );
  }

  close(): void {}
}

/** Bytes as people read them, in Ollama's decimal units: `850 MB`, `4.7 GB`. */
export function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 || v >= 100 ? Math.round(v) : Math.round(v * 10) / 10} ${units[i]}`;
}

/** `45s`, `3m05s`, `1h02m`. */
function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
