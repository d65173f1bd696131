import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { loadConfig } from "../lib/config/load.js";
import type { Config } from "../lib/config/types.js";
import { type Logger, silentLog } from "../lib/log/app-log.js";
import type { Telemetry } from "../lib/observe/telemetry.js";
import { type RunningServer, startServer } from "../lib/server.js";
import { openStore, type Store } from "../lib/store/open.js";
import type { FakeOllama } from "./fixtures/fake-ollama.js";

/** The repository root (tests run from .build/test/, sources live two levels up). */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Anything listening where an Ollama should be: a fake, or a hostile raw TCP server. */
export type Backend = Pick<FakeOllama, "name" | "port">;

/** A temp folder removed after the test. */
export function tempDir(t: TestContext, prefix = "olp-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A config section for `servers`, with test-friendly timings; `extra` is merged over it. */
export function section(
  servers: readonly Backend[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const s: Record<string, unknown> = {};
  for (const [i, f] of servers.entries()) {
    s[f.name] = {
      host: "127.0.0.1",
      port: f.port,
      name: f.name,
      priority: i + 1,
      max_memory_gb: null,
      enabled: true,
    };
  }
  return {
    proxy_port: 11434,
    servers: s,
    // A generous poll timeout: on a loaded machine a first poll over 1 s would start a server "down".
    health: { interval_seconds: 0.2, timeout_ms: 5000 },
    logging: { level: "silent", dir: null },
    ...extra,
  };
}

/** Writes `{test: sectionObj}` as YAML in `dir` and loads it the way the CLI does. */
export function writeConfig(
  dir: string,
  sectionObj: Record<string, unknown>,
  env = "test",
): { file: string; config: Config } {
  const file = join(dir, "ollama_proxy.yml");
  const withDb = { database: join(dir, "proxy.sqlite3"), ...sectionObj };
  writeFileSync(file, stringify({ [env]: withDb }));
  return { file, config: loadConfig({ file, env, cwd: dir }).config };
}

export interface TestProxy {
  readonly url: string;
  readonly server: RunningServer;
  readonly store: Store;
  readonly config: Config;
  readonly dir: string;
  readonly file: string;
  /** Tokens of `alice` (user) and `root` (admin). */
  readonly userToken: string;
  readonly adminToken: string;
  /** Authorization headers for alice. */
  readonly auth: { authorization: string };
  /** Closes the server, then the telemetry (what SIGTERM does); the store stays open for reading. */
  close(): Promise<void>;
}

/** Telemetry a test plugs in, built once the config is known; closed after the server. */
export type TestTelemetry = Telemetry & {
  attach?(fleet: RunningServer["fleet"], server?: RunningServer): void;
  close(): Promise<void>;
};

/** Starts the proxy in-process on port 0 in front of `servers`, with users alice and root; closed after the test. */
export async function startProxy(
  t: TestContext,
  servers: readonly Backend[],
  opts: {
    extra?: Record<string, unknown>;
    environ?: NodeJS.ProcessEnv;
    log?: Logger;
    /** A folder of the test's own (default: a fresh temp folder). */
    dir?: string;
    telemetry?: (config: Config, log: Logger) => TestTelemetry;
  } = {},
): Promise<TestProxy> {
  const dir = opts.dir ?? tempDir(t);
  const { file, config } = writeConfig(dir, section(servers, opts.extra));
  const store = openStore(config.database);
  const userToken = store.users.create("alice").token;
  const adminToken = store.users.create("root", { role: "admin" }).token;
  const log = opts.log ?? silentLog();
  const telemetry = opts.telemetry?.(config, log);
  const server = await startServer({
    config,
    store,
    log,
    port: 0,
    ...(telemetry ? { telemetry } : {}),
    ...(opts.environ ? { environ: opts.environ } : {}),
  });
  telemetry?.attach?.(server.fleet, server);
  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= server.close(0).then(() => telemetry?.close());
    return closing;
  };
  t.after(async () => {
    await close();
    store.close();
  });
  return {
    url: server.url,
    server,
    store,
    config,
    dir,
    file,
    userToken,
    adminToken,
    auth: { authorization: `Bearer ${userToken}` },
    close,
  };
}

/**
 * Creates a user the way the CLI does — another connection to the database, as a running
 * server would see it — and returns its Authorization header.
 */
export function addUser(database: string, name = "alice"): { authorization: string } {
  const store = openStore(database);
  try {
    return { authorization: `Bearer ${store.users.create(name).token}` };
  } finally {
    store.close();
  }
}

/**
 * Polls `check` until it returns true, failing with `what` after `timeoutMs`. A check that
 * throws (a connection closed under it) counts as "not yet"; its last error is in the message.
 */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for: ${what}${last ? ` (last error: ${String(last)})` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** POSTs JSON (or a raw string) and returns status, headers and parsed body. */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: unknown; text: string }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** Runs the CLI in-process, as `ollama-proxy ...argv` would, collecting what it prints. */
export async function runCli(argv: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  // Imported here: the CLI's modules are most of a test file's start-up, and most files run none.
  const { main } = await import("../lib/cli/main.js");
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** A config file (section `test`, no servers) whose database lives in a temp dir; `args` points the CLI at it. */
export function cliSetup(t: TestContext): { dir: string; file: string; database: string; args: string[] } {
  const dir = tempDir(t);
  const { file, config } = writeConfig(dir, { servers: {}, logging: { level: "silent", dir: null } });
  return { dir, file, database: config.database, args: ["--config", file, "--env", "test"] };
}
