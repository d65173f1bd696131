import { silentLog } from "../log/app-log.js";
import { normalizeModel } from "../model-name.js";
import type { HealthReport } from "../observe/health.js";
import { explainRoute } from "../routing/explain.js";
import { startFleet } from "../routing/fleet.js";
import { loadOrFail } from "./common.js";
import type { Io } from "./io.js";
import { readRuntimeFile, runtimeFilePath } from "./runtime-file.js";

/**
 * `ollama-proxy route MODEL`: polls every configured server once, as the running proxy does,
 * and prints where MODEL would go and why the other servers would not get it — and, when
 * the proxy runs, how many requests for MODEL wait in its queue.
 */
export async function route(
  args: { model: string; json: boolean; config?: string; env?: string },
  io: Io,
): Promise<number> {
  const { config } = loadOrFail(args);
  const fleet = startFleet(config, silentLog());
  try {
    const [, queue] = await Promise.all([fleet.ready(), runningQueue(config.database, config.env)]);
    const e = explainRoute(config, fleet, args.model);
    const key = normalizeModel(args.model);
    const waiting = queue === null ? null : (queue.waiting_by_model[key] ?? 0);
    if (args.json) {
      io.out(JSON.stringify({ ...e, waiting }));
    } else {
      io.out(e.summary);
      for (const v of e.verdicts) io.out(`  ${v.chosen ? "→" : " "} ${v.server}: ${v.why}`);
      if (waiting !== null && queue !== null)
        io.out(
          `  ${waiting} request${waiting === 1 ? "" : "s"} for ${key} wait in the running proxy (${queue.waiting} in all, the oldest for ${Math.round(queue.oldest_wait_ms / 100) / 10} s)`,
        );
    }
    return e.target === null ? 1 : 0;
  } finally {
    fleet.close();
  }
}

/** The queue of the proxy running with this database and section, if it runs and schedules; null otherwise. */
async function runningQueue(
  database: string,
  env: string,
): Promise<NonNullable<HealthReport["queue"]> | null> {
  const found = readRuntimeFile(runtimeFilePath(database, env));
  if (found.kind !== "found" || !found.running) return null;
  try {
    const res = await fetch(`${found.info.url.replace(/\/+$/, "")}/health`, {
      signal: AbortSignal.timeout(2000),
    });
    const report = (await res.json()) as HealthReport;
    return report.queue ?? null;
  } catch {
    return null;
  }
}
