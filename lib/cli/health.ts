import { request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { checkServerIdentity, rootCertificates } from "node:tls";
import type { HealthReport } from "../observe/health.js";
import { findTarget, type TargetArgs, type Trust } from "./health-target.js";
import { EXIT, type Io } from "./io.js";
import { formatMs, formatTable } from "./table.js";

export interface HealthArgs extends TargetArgs {
  json: boolean;
  timeout: number;
}

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
