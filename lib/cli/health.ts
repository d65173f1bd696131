import { loadConfig } from "../config/load.js";
import type { HealthReport } from "../observe/health.js";
import type { Io } from "./io.js";

/**
 * `ollama-proxy health`: asks a running proxy's /health. Exit 0 ok, 1 degraded, 2 down or
 * unreachable — for monitoring and scripts.
 */
export async function health(
  args: { url?: string; json: boolean; config?: string; env?: string; timeout: number },
  io: Io,
): Promise<number> {
  let url = args.url;
  if (url === undefined) {
    // Without --url, ask the proxy the config describes (on loopback when it listens everywhere).
    try {
      const { config } = loadConfig({ file: args.config, env: args.env });
      const host = config.bind === "0.0.0.0" || config.bind === "::" ? "127.0.0.1" : config.bind;
      url = `http://${host.includes(":") ? `[${host}]` : host}:${config.proxyPort}`;
    } catch {
      url = "http://127.0.0.1:11434";
    }
  }
  const target = `${url.replace(/\/+$/, "")}/health`;
  let report: HealthReport;
  try {
    const res = await fetch(target, { signal: AbortSignal.timeout(args.timeout) });
    report = (await res.json()) as HealthReport;
  } catch (err) {
    const reason = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    if (args.json) io.out(JSON.stringify({ status: "unreachable", url: target, error: reason }));
    else io.out(`unreachable: ${target} (${reason})`);
    return 2;
  }
  if (args.json) {
    io.out(JSON.stringify(report));
  } else {
    io.out(
      `${report.status}${report.shutting_down ? " (shutting down)" : ""} — ollama-proxy ${report.version}, up ${report.uptime_s} s`,
    );
    for (const s of report.servers) {
      const state = s.healthy
        ? `up ${s.latency_ms ?? "?"} ms${s.slow ? " (slow)" : ""}`
        : `${s.state}${s.error ? `: ${s.error}` : ""}`;
      io.out(
        `  server ${s.name}: ${state}, ${s.models} models, loaded: ${s.loaded.join(", ") || "none"}, in flight: ${s.in_flight}`,
      );
    }
    for (const e of report.external_hosts)
      io.out(`  external ${e.name} (${e.type}): ${e.usable ? "usable" : `not usable: ${e.reason}`}`);
    for (const c of report.components)
      io.out(`  ${c.name}: ${c.ok ? "ok" : "degraded"}${c.detail ? ` ${JSON.stringify(c.detail)}` : ""}`);
  }
  return report.status === "ok" ? 0 : report.status === "degraded" ? 1 : 2;
}
