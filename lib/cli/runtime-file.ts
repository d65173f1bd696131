import { readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * What a running `serve` records about itself in its state folder (the database's folder:
 * /var/lib/ollama-proxy in the .deb, db/ in a checkout), so that `health` probes the address
 * the server really bound — not the one a config edited since, or half-written, describes.
 */
export interface RuntimeInfo {
  /** With its scheme: `https://` when the config has `tls`. */
  readonly url: string;
  readonly pid: number;
  readonly env: string;
  /** The config file it was started with (absolute). */
  readonly config: string;
  readonly database: string;
  readonly version: string;
  /** ISO 8601. */
  readonly started_at: string;
}

/** The runtime file of a server whose database is `database`, running section `env`. */
export function runtimeFilePath(database: string, env: string): string {
  return join(dirname(database), `ollama-proxy-${env}.runtime.json`);
}

/** Writes the file whole or not at all (a reader never sees half of it). */
export function writeRuntimeFile(path: string, info: RuntimeInfo): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o640 });
  renameSync(tmp, path);
}

/** Removes the file if it is this process's (a second instance that failed to start must not remove the first one's). */
export function removeRuntimeFile(path: string, pid = process.pid): void {
  const found = readRuntimeFile(path);
  if (found.kind === "found" && found.info.pid !== pid) return;
  try {
    unlinkSync(path);
  } catch {
    // Gone already, or never written: nothing to undo.
  }
}

/** What reading a runtime file gave: its content (and whether that process still runs), or why not. */
export type RuntimeRead =
  | { kind: "found"; info: RuntimeInfo; running: boolean }
  | { kind: "missing" }
  | { kind: "unreadable"; reason: string };

export function readRuntimeFile(path: string): RuntimeRead {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { kind: "missing" };
    return { kind: "unreadable", reason: code ?? (err as Error).message };
  }
  let info: RuntimeInfo;
  try {
    info = JSON.parse(text) as RuntimeInfo;
  } catch {
    return { kind: "unreadable", reason: "not JSON" };
  }
  if (typeof info?.url !== "string" || typeof info.pid !== "number")
    return { kind: "unreadable", reason: "no url or pid in it" };
  return { kind: "found", info, running: processRuns(info.pid) };
}

/** Signal 0 checks that a process exists without touching it; EPERM means it exists as someone else. */
function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
