import { X509Certificate } from "node:crypto";
import { readFileSync, realpathSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { dirname, join, resolve } from "node:path";
import { checkServerIdentity, rootCertificates } from "node:tls";
import { parse } from "yaml";
import { readCa } from "../client/front-door.js";
import { ConfigError, loadConfig, resolveConfigLocation } from "../config/load.js";
import type { Config } from "../config/types.js";
import { isSelfSigned } from "../http/tls.js";
import type { HealthReport } from "../observe/health.js";
import { CliError, EXIT, type Io } from "./io.js";
import { readRuntimeFile, runtimeFilePath } from "./runtime-file.js";
import { formatMs, formatTable } from "./table.js";

export interface HealthArgs {
  url?: string | undefined;
  json: boolean;
  config?: string | undefined;
  env?: string | undefined;
  timeout: number;
  /** A CA (or self-signed certificate) to trust for an https:// address, besides the system's. */
  ca?: string | undefined;
}

/**
 * Where the state folder may be when the config cannot tell: the .deb's, then a checkout's
 * (after the folder of a `database` the broken file still names). Only a runtime file
 * written by a server started with the same config file is taken there.
 */
const KNOWN_STATE_DIRS = ["/var/lib/ollama-proxy", "db"];

/**
 * How to trust an https:// address: CAs (PEM) to add to the system's, and whether the
 * address came from the config or the runtime file (the server's own bound address, which
 * its certificate need not name: the chain is checked, the host name is not).
 */
interface Trust {
  readonly ca: readonly string[];
  readonly own: boolean;
}

/** Where to probe, and how that was found out; or everything that was tried and why it did not tell. */
type Target =
  | { kind: "url"; url: string; notes: string[]; trust: Trust }
  | { kind: "unknown"; problems: string[] };

/** What the address answered. */
type Probe =
  | { kind: "report"; report: HealthReport }
  | { kind: "unreachable"; error: string }
  | { kind: "plain-ollama"; error: string }
  | { kind: "unexpected"; error: string };

/**
 * `ollama-proxy health`: asks a running proxy's /health. Exit 0 ok, 1 degraded, 2 down,
 * unreachable, or not an ollama-proxy at all — for monitoring and scripts, which must never
 * page on a healthy proxy nor pass a dead one.
 */
export async function health(args: HealthArgs, io: Io): Promise<number> {
  const target = findTarget(args);
  if (target.kind === "unknown") {
    const error = `cannot tell where ollama-proxy listens: ${target.problems.join("; ")}. Pass --url.`;
    if (args.json) io.out(JSON.stringify({ status: "no_address", url: null, error }));
    else io.out(`unknown: ${error}`);
    return EXIT.down;
  }
  for (const note of target.notes) io.err(`note: ${note}`);
  const base = target.url.replace(/\/+$/, "");
  const probe = await probeHealth(base, target.trust, args.timeout);
  if (probe.kind !== "report") {
    const status = {
      unreachable: "unreachable",
      "plain-ollama": "not_ollama_proxy",
      unexpected: "unexpected_answer",
    }[probe.kind];
    const url = `${base}/health`;
    if (args.json) io.out(JSON.stringify({ status, url, error: probe.error }));
    else if (probe.kind === "unreachable") io.out(`unreachable: ${url} (${probe.error})`);
    else if (probe.kind === "plain-ollama") io.out(`reached an Ollama, not ollama-proxy: ${probe.error}`);
    else io.out(`unexpected answer from ${url}: ${probe.error}`);
    return EXIT.down;
  }
  const { report } = probe;
  if (args.json) io.out(JSON.stringify(report));
  else printReport(io, report, base);
  return report.status === "ok" ? EXIT.ok : report.status === "degraded" ? EXIT.failure : EXIT.down;
}

/**
 * --url; else the address the running server recorded in its state folder (found through
 * the config's database, or — when the config cannot be read — in the known state folders);
 * else the config's proxy_port and bind.
 */
function findTarget(args: HealthArgs): Target {
  const given = givenCa(args.ca);
  if (args.url !== undefined)
    return { kind: "url", url: args.url, notes: [], trust: { ca: given, own: false } };
  const { file, env } = resolveConfigLocation({ file: args.config, env: args.env });
  let config: Config;
  try {
    config = loadConfig({ file: args.config, env: args.env }).config;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return fromStateDirs(file, env, `the config ${file} [${env}] cannot be used (${err.problems[0]})`, given);
  }
  const notes: string[] = [];
  const trust = { ca: [...given, ...configuredTrust(config, notes)], own: true };
  const path = runtimeFilePath(config.database, config.env);
  const found = readRuntimeFile(path);
  if (found.kind === "found" && found.info.env === config.env) {
    if (found.running) return { kind: "url", url: found.info.url, notes, trust };
    return {
      kind: "url",
      url: configUrl(config),
      notes: [
        ...notes,
        `${path} names pid ${found.info.pid}, which is not running; probing the config's address`,
      ],
      trust,
    };
  }
  if (found.kind === "unreadable")
    notes.push(`cannot read ${path} (${found.reason}); probing the config's address`);
  return { kind: "url", url: configUrl(config), notes, trust };
}

/** `--ca PATH` as PEM; a file that is not one is a usage error (exit 64), not a probe result. */
function givenCa(path: string | undefined): string[] {
  if (path === undefined) return [];
  const read = readCa(resolve(path));
  if ("error" in read) throw new CliError(`--ca: ${read.error}`, EXIT.usage);
  return [read.pem];
}

/**
 * What the config says to trust for its own server: `tls.ca`, else the certificate itself when
 * it signed itself (a test pair, or one a private tool made). A file this user cannot read is a note.
 */
function configuredTrust(config: Config, notes: string[]): string[] {
  const tls = config.tls;
  if (tls === null) return [];
  const path = tls.ca ?? tls.cert;
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (err) {
    notes.push(
      `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? err}) to trust the proxy's certificate; pass --ca`,
    );
    return [];
  }
  if (tls.ca !== null) return [pem];
  try {
    return isSelfSigned(new X509Certificate(pem)) ? [pem] : [];
  } catch {
    return [];
  }
}

/** The config is unusable (mid-edit, unreadable): a runtime file of a server started with it still tells. */
function fromStateDirs(file: string, env: string, why: string, ca: readonly string[]): Target {
  const problems = [why];
  const same = (a: string, b: string) => {
    try {
      return realpathSync(a) === realpathSync(b);
    } catch {
      return resolve(a) === resolve(b);
    }
  };
  const raw = rawDatabase(file, env);
  const dirs = raw === null ? KNOWN_STATE_DIRS : [dirname(raw), ...KNOWN_STATE_DIRS];
  for (const dir of new Set(dirs.map((d) => resolve(d)))) {
    const path = runtimeFilePath(join(dir, "x"), env);
    const found = readRuntimeFile(path);
    if (found.kind === "missing") {
      problems.push(`no ${path}`);
    } else if (found.kind === "unreadable") {
      problems.push(`cannot read ${path} (${found.reason})`);
    } else if (!same(found.info.config, file)) {
      problems.push(`${path} is of a server started with ${found.info.config}`);
    } else if (!found.running) {
      problems.push(`${path} names pid ${found.info.pid}, which is not running`);
    } else {
      return {
        kind: "url",
        url: found.info.url,
        notes: [`${why}; probing the address the running server recorded in ${path}`],
        trust: { ca, own: true },
      };
    }
  }
  return { kind: "unknown", problems };
}

/**
 * The section's `database` as written, from a file that parses as YAML but does not validate
 * (a bad value elsewhere): the state folder is still known. null when that is not there.
 */
function rawDatabase(file: string, env: string): string | null {
  try {
    const root = parse(readFileSync(file, "utf8"), { merge: true }) as Record<string, { database?: unknown }>;
    const database = root?.[env]?.database;
    return typeof database === "string" && !database.includes("${") ? resolve(database) : null;
  } catch {
    return null;
  }
}

/** The config's address (https:// with `tls`): loopback when the proxy listens on every interface. */
function configUrl(config: Config): string {
  const host = config.bind === "0.0.0.0" || config.bind === "::" ? "127.0.0.1" : config.bind;
  const scheme = config.tls === null ? "http" : "https";
  return `${scheme}://${host.includes(":") ? `[${host}]` : host}:${config.proxyPort}`;
}

/** GET /health, judged: an ollama-proxy report, a plain Ollama, something else, or nothing. */
async function probeHealth(base: string, trust: Trust, timeoutMs: number): Promise<Probe> {
  const deadline = Date.now() + timeoutMs;
  const agent = base.startsWith("https:") ? httpsAgent(trust) : undefined;
  try {
    let answer: Answer;
    try {
      answer = await get(`${base}/health`, agent, deadline);
    } catch (err) {
      return { kind: "unreachable", error: networkError(err, timeoutMs, base) };
    }
    const { status, type, text } = answer;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (isReport(body)) return { kind: "report", report: body };
    // Ollama itself has no /health (404) but says "Ollama is running" at /: the address is
    // probably proxy_port pointing at the Ollama the proxy was meant to stand in front of.
    if (await saysOllamaIsRunning(base, agent, deadline))
      return {
        kind: "plain-ollama",
        error: `${base}/ says "Ollama is running" but ${base}/health is ${status === 404 ? "missing" : `HTTP ${status}`}; is proxy_port the Ollama's port?`,
      };
    const snippet = JSON.stringify(text.slice(0, 60));
    if (body === undefined)
      return { kind: "unexpected", error: `HTTP ${status}, ${type}, not JSON: ${snippet}` };
    return {
      kind: "unexpected",
      error: `HTTP ${status}, JSON without ollama-proxy's health fields: ${snippet}`,
    };
  } finally {
    agent?.destroy();
  }
}

async function saysOllamaIsRunning(
  base: string,
  agent: HttpsAgent | undefined,
  deadline: number,
): Promise<boolean> {
  try {
    return (await get(`${base}/`, agent, deadline)).text.includes("Ollama is running");
  } catch {
    return false;
  }
}

/**
 * The agent for an https:// probe: the system's CAs plus the trusted ones; the host name is not
 * checked when the address is the server's own (from its config or runtime file).
 */
function httpsAgent(trust: Trust): HttpsAgent {
  return new HttpsAgent({
    ...(trust.ca.length > 0 ? { ca: [...rootCertificates, ...trust.ca] } : {}),
    ...(trust.own ? { checkServerIdentity: () => undefined } : { checkServerIdentity }),
  });
}

interface Answer {
  status: number;
  type: string;
  text: string;
}

/** The longest answer read: a health report of a large fleet is a few hundred KB. */
const ANSWER_LIMIT = 8 * 1024 * 1024;

/** One GET, read whole, that fails with a TimeoutError at `deadline`. */
function get(url: string, agent: HttpsAgent | undefined, deadline: number): Promise<Answer> {
  return new Promise((resolvePromise, reject) => {
    const send = url.startsWith("https:") ? httpsRequest : httpRequest;
    const req = send(url, { ...(agent ? { agent } : {}) }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > ANSWER_LIMIT) req.destroy(new Error(`the answer is over ${ANSWER_LIMIT} bytes`));
        else chunks.push(c);
      });
      res.on("end", () =>
        resolvePromise({
          status: res.statusCode ?? 0,
          type: res.headers["content-type"] ?? "no content-type",
          text: Buffer.concat(chunks).toString("utf8"),
        }),
      );
      res.on("error", reject);
    });
    const timer = setTimeout(
      () => req.destroy(Object.assign(new Error("timed out"), { name: "TimeoutError" })),
      Math.max(0, deadline - Date.now()),
    );
    req.on("close", () => clearTimeout(timer));
    req.on("error", reject);
    req.end();
  });
}

function isReport(body: unknown): body is HealthReport {
  const b = body as Partial<HealthReport> | null;
  return (
    typeof b === "object" &&
    b !== null &&
    (b.status === "ok" || b.status === "degraded" || b.status === "down") &&
    Array.isArray(b.servers) &&
    typeof b.version === "string"
  );
}

function networkError(err: unknown, timeoutMs: number, base: string): string {
  const e = err as { name?: string; message?: string; code?: string };
  if (e.name === "TimeoutError") return `no answer within ${timeoutMs} ms (timed out)`;
  const code = e.code ?? e.message ?? String(err);
  const https = base.startsWith("https:");
  switch (code) {
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
    case "SELF_SIGNED_CERT_IN_CHAIN":
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
    case "UNABLE_TO_GET_ISSUER_CERT":
    case "CERT_UNTRUSTED":
      return `${code}: the proxy's certificate is not trusted; pass --ca with the CA that signed it (or the certificate itself, when self-signed)`;
    case "CERT_HAS_EXPIRED":
      return `${code}: the proxy's certificate has expired; renew it and reload the proxy`;
    case "ERR_TLS_CERT_ALTNAME_INVALID":
      return `${code}: the proxy's certificate is not for ${new URL(base).hostname}; use a name it has in --url`;
    case "EPROTO":
    case "ERR_SSL_WRONG_VERSION_NUMBER":
      return https ? `${code}: the address does not speak HTTPS; try http://` : code;
    case "ECONNRESET":
    case "HPE_INVALID_CONSTANT":
      return https ? code : `${code}: if the proxy serves HTTPS (tls in its config), use an https:// address`;
  }
  return code;
}

/** The report for people: a status line, then one table each for servers, external hosts and components. */
function printReport(io: Io, r: HealthReport, base: string): void {
  io.out(
    `${r.status}${r.shutting_down ? " (shutting down)" : ""} — ollama-proxy ${r.version} at ${base}, up ${formatUptime(r.uptime_s)}`,
  );
  if (r.servers.length > 0) {
    io.out("");
    io.out(
      formatTable(
        ["SERVER", "STATE", "LATENCY", "MODELS", "LOADED", "IN FLIGHT", "LAST ERROR"],
        r.servers.map((s) => [
          s.name,
          s.state === "unknown" ? "not polled yet" : s.slow && s.healthy ? `${s.state} (slow)` : s.state,
          s.latency_ms === null || !s.healthy ? "-" : `${s.latency_ms} ms`,
          String(s.models),
          // What a down server had loaded is history, not its state.
          s.healthy ? loadedList(s.loaded) : "-",
          String(s.in_flight),
          s.error ?? "",
        ]),
        { right: new Set([2, 3, 5]) },
      ),
    );
  }
  if (r.external_hosts.length > 0) {
    io.out("");
    io.out(
      formatTable(
        ["EXTERNAL HOST", "TYPE", "STATE"],
        r.external_hosts.map((e) => [e.name, e.type, e.usable ? "usable" : `not usable: ${e.reason ?? "?"}`]),
      ),
    );
  }
  if (r.components.length > 0) {
    io.out("");
    io.out(
      formatTable(
        ["COMPONENT", "STATE", "DETAIL"],
        r.components.map((c) => [c.name, c.ok ? "ok" : "degraded", describeDetail(c.detail)]),
      ),
    );
  }
}

/** Up to three names, then how many more. */
function loadedList(names: readonly string[]): string {
  if (names.length === 0) return "-";
  return names.length <= 3 ? names.join(", ") : `${names.slice(0, 3).join(", ")} +${names.length - 3}`;
}

/** `{written: 1520, error: "database is locked"}` → `written 1520, error: database is locked`. */
function describeDetail(detail: Record<string, unknown> | undefined): string {
  if (detail === undefined) return "";
  return Object.entries(detail)
    .map(([k, v]) => {
      const value = typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
      return typeof v === "string"
        ? `${k.replaceAll("_", " ")}: ${value}`
        : `${k.replaceAll("_", " ")} ${value}`;
    })
    .join(", ");
}

function formatUptime(seconds: number): string {
  return seconds < 60 ? `${seconds} s` : formatMs(seconds * 1000);
}
