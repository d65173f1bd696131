import { silentLog } from "../log/app-log.js";
import { explainRoute } from "../routing/explain.js";
import { startFleet } from "../routing/fleet.js";
import { loadOrFail } from "./common.js";
import type { Io } from "./io.js";

/**
 * `ollama-proxy route MODEL`: polls every configured server once, as the running proxy does,
 * and prints where MODEL would go and why the other servers would not get it.
 */
export async function route(
  args: { model: string; json: boolean; config?: string; env?: string },
  io: Io,
): Promise<number> {
  const { config } = loadOrFail(args);
  const fleet = startFleet(config, silentLog());
  try {
    await fleet.ready();
    const e = explainRoute(config, fleet, args.model);
    if (args.json) {
      io.out(JSON.stringify(e));
    } else {
      io.out(e.summary);
      for (const v of e.verdicts) io.out(`  ${v.chosen ? "→" : " "} ${v.server}: ${v.why}`);
    }
    return e.target === null ? 1 : 0;
  } finally {
    fleet.close();
  }
}
