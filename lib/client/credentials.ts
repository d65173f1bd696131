import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";

/** What `ollama-proxy login` remembers: the front door, the token for it, and a private CA to trust. */
export interface Credentials {
  /** The proxy's base URL as login normalised it (`http://host:11434`, no trailing slash). */
  url: string;
  token: string;
  /** Absolute path of a PEM file with the CA that signed the proxy's certificate. */
  ca?: string;
}

/** The stored credentials, or why there are none to use. */
export type StoredCredentials =
  | { kind: "ok"; path: string; credentials: Credentials }
  | { kind: "missing"; path: string }
  /** Group or others may read or change it: a token there is no longer a secret. */
  | { kind: "exposed"; path: string; mode: number }
  | { kind: "invalid"; path: string; reason: string };

/**
 * Where the credentials live: `$XDG_CONFIG_HOME/ollama-proxy/credentials.json`, else
 * `~/.config/ollama-proxy/credentials.json`. The XDG Base Directory spec says a relative
 * `XDG_CONFIG_HOME` is invalid and must be ignored.
 */
export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), ".config");
  return join(base, "ollama-proxy", "credentials.json");
}

/** Reads the credentials file, refusing one that others can read (as ssh does with private keys). */
export function readCredentials(path: string): StoredCredentials {
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { kind: "missing", path };
    return { kind: "invalid", path, reason: (err as Error).message };
  }
  if (process.platform !== "win32" && (mode & 0o077) !== 0) return { kind: "exposed", path, mode };
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    return { kind: "invalid", path, reason: (err as Error).message };
  }
  const problem = credentialsProblem(data);
  if (problem !== null) return { kind: "invalid", path, reason: problem };
  return { kind: "ok", path, credentials: data as Credentials };
}

function credentialsProblem(data: unknown): string | null {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return "not a JSON object";
  const d = data as Record<string, unknown>;
  if (typeof d.url !== "string" || d.url === "") return "no url";
  if (typeof d.token !== "string" || d.token === "") return "no token";
  if (d.ca !== undefined && typeof d.ca !== "string") return "ca is not a path";
  return null;
}

/**
 * Writes the credentials atomically (a temp file in the same folder, fsynced, renamed over the
 * old one): a crash or a full disk leaves the old file or the new one, never half a token.
 * The folder is made 0700 and the file 0600 whatever the umask.
 */
export function writeCredentials(path: string, credentials: Credentials): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const tmp = join(dir, `.credentials.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const text = `${JSON.stringify(credentials, null, 2)}\n`;
  let fd: number | null = openSync(tmp, "wx", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== null) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw err;
  }
  syncFolder(dir);
}

/** Makes the rename itself durable (POSIX: a rename lives in the folder's entry). */
function syncFolder(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Some systems cannot fsync a folder; the rename is still atomic, only maybe not yet on disk.
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** Deletes the credentials file; false when there was none. */
export function removeCredentials(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}
