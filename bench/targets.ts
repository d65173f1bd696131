/**
 * The processes the benchmark measures: the fake Ollama, ollama-proxy (full pipeline, request
 * log on or off), the reference proxy, nginx, and "direct" (the fake itself). Each runs in its
 * own process; whoever starts one stops it.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { accessSync, chmodSync, constants, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent as UndiciAgent } from "undici";
import { stringify } from "yaml";
import { BENCH_MODEL } from "./common.js";
import { childrenOf } from "./proc.js";

/** The repository root (this file runs from .build/bench/). */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** Where the compiled bench scripts are. */
export const BUILT = fileURLToPath(new URL(".", import.meta.url));

export type TargetName =
  | "direct"
  | "reference"
  | "nginx"
  | "ollama-proxy"
  | "ollama-proxy-nolog"
  | "ollama-proxy-tls"
  | "ollama-proxy-policy";

export const LABELS: Record<TargetName, string> = {
  direct: "direct",
  reference: "reference",
  nginx: "nginx",
  "ollama-proxy": "ollama-proxy",
  "ollama-proxy-nolog": "ollama-proxy (log off)",
  "ollama-proxy-tls": "ollama-proxy (HTTPS)",
  "ollama-proxy-policy": "ollama-proxy (policy)",
};

export interface Target {
  readonly name: TargetName;
  readonly url: string;
  /** Headers every request to it carries (the bearer token; harmless for the others). */
  readonly headers: Record<string, string>;
  /** For an https:// target: the PEM certificate a client must trust (self-signed, made for the run). */
  readonly ca?: string;
  /** The processes whose memory is the target's (nginx: master and workers). */
  pids(): number[];
  /** The pid to profile or signal. */
  readonly pid: number;
  stop(): Promise<void>;
}

/** A child process that announced `listening on http(s)://...` on stderr. */
export interface Listening {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/**
 * Every child gets the highest open-file limit it may have: the hard limit (65536 when the
 * hard limit can be raised, i.e. as root outside a container). Node cannot call setrlimit, so a
 * shell sets it and execs the command.
 */
const RAISE_LIMIT = 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"';

export function spawnRaised(
  command: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv } = {},
) {
  return spawn("/bin/sh", ["-c", RAISE_LIMIT, "sh", command, ...args], {
    cwd: ROOT,
    env: opts.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** The open-file limit a child started by `spawnRaised` gets. */
export function childFileLimit(): number {
  const out = execFileSync("/bin/sh", ["-c", `${RAISE_LIMIT.replace('exec "$@"', "")} ulimit -n`], {
    encoding: "utf8",
  });
  return Number(out.trim());
}

async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Starts a process and waits (20 s at most) for its `listening on` line. */
export async function startListening(
  command: string,
  args: readonly string[],
  env?: NodeJS.ProcessEnv,
): Promise<Listening> {
  const child = spawnRaised(command, args, { env });
  let err = "";
  child.stdout!.resume();
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${command} ${args.join(" ")}: no "listening on" line within 20 s:\n${err}`));
    }, 20_000);
    child.stderr!.on("data", (c: Buffer) => {
      if (err.length < 65_536) err += c.toString();
      const m = /listening on (https?:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} ${args.join(" ")} exited with ${code} before listening:\n${err}`));
    });
  });
  return { child, url, stop: () => stopChild(child) };
}

/** The fake Ollama upstream. */
export async function startFake(): Promise<Listening> {
  return startListening(process.execPath, [join(BUILT, "fake-ollama.js")]);
}

export function direct(fake: Listening): Target {
  return {
    name: "direct",
    url: fake.url,
    headers: {},
    pid: fake.child.pid!,
    pids: () => [fake.child.pid!],
    // The fake outlives the direct target: it serves the others too.
    stop: async () => {},
  };
}

export async function startReference(upstream: string, nodeArgs: string[] = []): Promise<Target> {
  const p = await startListening(process.execPath, [
    ...nodeArgs,
    join(BUILT, "reference-proxy.js"),
    upstream,
  ]);
  return {
    name: "reference",
    url: p.url,
    headers: {},
    pid: p.child.pid!,
    pids: () => [p.child.pid!],
    stop: p.stop,
  };
}

/** Whether `openssl` is there to make the HTTPS target's certificate. */
export function hasOpenssl(): boolean {
  return spawnSync("openssl", ["version"]).error === undefined;
}

/** A self-signed certificate for 127.0.0.1 and its key, made with openssl in `home`. */
function selfSignedPair(home: string): { cert: string; key: string } {
  const cert = join(home, "tls.crt");
  const key = join(home, "tls.key");
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
      ...["-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
      ...["-keyout", key, "-out", cert],
    ],
    { stdio: "ignore" },
  );
  return { cert, key };
}

/**
 * The bench user's policy for the `policy` target: every limit set, none reached — what a
 * limited user costs on the request path (model globs, the lease, the per-minute window, the
 * day's tokens, OpenAI's rate-limit headers). No `options` rule: the body keeps its bytes.
 */
const BENCH_POLICIES = {
  limited: {
    models: ["bench*", "!*70b*"],
    max_concurrent: 100_000,
    requests_per_minute: 100_000_000,
    tokens_per_day: 1_000_000_000_000,
    weight: 1,
  },
};

/**
 * ollama-proxy as it is shipped: the built CLI, a config pointing at the fake, a user made by
 * the CLI, the request log on (or off) and the app log at info in a temp folder; with `tls`,
 * serving HTTPS with a self-signed pair made for the run (the same P-256 key as the tests').
 */
export async function startOllamaProxy(
  upstream: string,
  dir: string,
  opts: { requestLog: boolean; tls?: boolean; policy?: boolean; nodeArgs?: string[] },
): Promise<Target> {
  const name: TargetName = opts.tls
    ? "ollama-proxy-tls"
    : opts.policy
      ? "ollama-proxy-policy"
      : opts.requestLog
        ? "ollama-proxy"
        : "ollama-proxy-nolog";
  const home = join(dir, name);
  mkdirSync(join(home, "log"), { recursive: true });
  const tls = opts.tls ? selfSignedPair(home) : null;
  const file = join(home, "config.yml");
  const { hostname, port } = new URL(upstream);
  writeFileSync(
    file,
    stringify({
      bench: {
        // Any valid port: `serve --port 0` overrides it.
        proxy_port: 11434,
        bind: "127.0.0.1",
        servers: {
          fake: {
            host: hostname,
            port: Number(port),
            name: "fake",
            priority: 1,
            max_memory_gb: null,
            enabled: true,
          },
        },
        health: { interval_seconds: 5 },
        logging: { level: "info", dir: join(home, "log"), request_log: opts.requestLog },
        database: join(home, "bench.sqlite3"),
        ...(tls ? { tls } : {}),
        ...(opts.policy ? { policies: BENCH_POLICIES } : {}),
      },
    }),
  );
  const cli = join(ROOT, "bin/ollama-proxy");
  const created = execFileSync(
    process.execPath,
    [
      cli,
      "users",
      "create",
      "bench",
      ...(opts.policy ? ["--policy", "limited"] : []),
      "--json",
      "--config",
      file,
      "--env",
      "bench",
    ],
    { cwd: ROOT, encoding: "utf8" },
  );
  const token = (JSON.parse(created) as { token: string }).token;
  const p = await startListening(process.execPath, [
    ...(opts.nodeArgs ?? []),
    cli,
    "serve",
    "--config",
    file,
    "--env",
    "bench",
    "--port",
    "0",
  ]);
  return {
    name,
    url: p.url,
    headers: { authorization: `Bearer ${token}` },
    ...(tls ? { ca: readFileSync(tls.cert, "utf8") } : {}),
    pid: p.child.pid!,
    pids: () => [p.child.pid!],
    stop: p.stop,
  };
}

/** The nginx binary, or null when it is not installed (non-root PATHs often lack /usr/sbin). */
export function findNginx(): string | null {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin", "/sbin"];
  for (const d of dirs) {
    if (d === "") continue;
    try {
      accessSync(join(d, "nginx"), constants.X_OK);
      return join(d, "nginx");
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * nginx as a streaming reverse proxy, in the foreground with its own prefix: one worker (as
 * Node has one thread), proxy_buffering and proxy_request_buffering off, HTTP/1.1 keep-alive
 * to the upstream. nginx cannot listen on port 0 and say which port it got, so a free port is
 * picked and, should another process take it first, the start is retried on another.
 */
export async function startNginx(
  binary: string,
  upstream: string,
  dir: string,
  fileLimit: number,
): Promise<Target> {
  const home = join(dir, "nginx");
  mkdirSync(home, { recursive: true });
  // Run as root, nginx's worker becomes `nobody`, who must be able to reach its temp folders.
  chmodSync(dir, 0o755);
  chmodSync(home, 0o755);
  const { host } = new URL(upstream);
  // nginx runs out of connection slots (it says "worker_connections are not enough") well before
  // it runs out of descriptors, so its table is made larger than the open-file limit: the
  // limit is then the descriptors, as for the Node targets.
  const connections = 4 * fileLimit;
  let lastError = "";
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const conf = join(home, "nginx.conf");
    writeFileSync(
      conf,
      `worker_processes 1;
worker_rlimit_nofile ${fileLimit};
pid ${join(home, "nginx.pid")};
error_log ${join(home, "error.log")} warn;
events { worker_connections ${connections}; }
http {
  access_log off;
  client_body_temp_path ${join(home, "client_body")};
  proxy_temp_path ${join(home, "proxy")};
  fastcgi_temp_path ${join(home, "fastcgi")};
  uwsgi_temp_path ${join(home, "uwsgi")};
  scgi_temp_path ${join(home, "scgi")};
  client_max_body_size 64m;
  keepalive_requests 1000000;
  keepalive_timeout 5s;
  upstream ollama {
    server ${host};
    keepalive 256;
    keepalive_requests 1000000;
    keepalive_timeout 600s;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://ollama;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 300s;
    }
  }
}
`,
    );
    const child = spawnRaised(binary, [
      "-p",
      home,
      "-c",
      conf,
      "-e",
      join(home, "error.log"),
      "-g",
      "daemon off;",
    ]);
    let err = "";
    child.stdout!.resume();
    child.stderr!.on("data", (c: Buffer) => {
      err += c.toString();
    });
    const up = await waitForPort(port, child, 10_000);
    if (up) {
      const master = child.pid!;
      return {
        name: "nginx",
        url: `http://127.0.0.1:${port}`,
        headers: {},
        pid: master,
        pids: () => [master, ...childrenOf(master)],
        stop: () => stopChild(child),
      };
    }
    await stopChild(child);
    lastError = err;
  }
  throw new Error(`nginx did not start:\n${lastError}`);
}

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  const { port } = s.address() as { port: number };
  s.close();
  await once(s, "close");
  return port;
}

/** Polls until something accepts on `port` (true), the child exits or the deadline passes (false). */
async function waitForPort(port: number, child: ChildProcess, deadlineMs: number): Promise<boolean> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until && child.exitCode === null) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = createConnection({ port, host: "127.0.0.1" });
      c.once("connect", () => {
        c.destroy();
        resolve(true);
      });
      c.once("error", () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** Checks that a target answers the bench's requests as Ollama would (a 401 or 404 is fast, and no benchmark). */
export async function probe(t: Target): Promise<void> {
  // Node 20's fetch takes no CA of its own: an undici dispatcher trusts the HTTPS target's certificate.
  const dispatcher = t.ca === undefined ? undefined : new UndiciAgent({ connect: { ca: t.ca } });
  const post = async (body: unknown, extra: Record<string, string> = {}) => {
    const res = await fetch(`${t.url}/api/generate`, {
      method: "POST",
      headers: { ...t.headers, ...extra, "content-type": "application/json" },
      body: JSON.stringify(body),
      ...(dispatcher ? { dispatcher } : {}),
    } as RequestInit);
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${LABELS[t.name]}: POST /api/generate → ${res.status} ${text}`);
    return text;
  };
  const single = JSON.parse(await post({ model: BENCH_MODEL, stream: false, prompt: "hi" })) as {
    done?: boolean;
  };
  if (single.done !== true) throw new Error(`${LABELS[t.name]}: stream:false answer has no done:true`);
  const lines = (await post({ model: BENCH_MODEL, prompt: "hi" }, { "x-bench-chunks": "5" }))
    .trim()
    .split("\n");
  if (lines.length !== 6) throw new Error(`${LABELS[t.name]}: expected 6 NDJSON lines, got ${lines.length}`);
  await dispatcher?.close();
}
