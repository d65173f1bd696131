import type { Json } from "../json.js";
import { normalizeModel } from "../model-name.js";
import type { Inventory, InventoryModel } from "../routing/inventory.js";
import { checkServers, type FleetAccess } from "./fleet-access.js";
import { CliError, EXIT, type Io } from "./io.js";
import { type PullOutcome, pullView } from "./pull-progress.js";

/** What `models pull` was asked. */
export interface PullArgs {
  model: string;
  servers: string[] | null;
  all: boolean;
  force: boolean;
  json: boolean;
}

/** What a pull does on each server: pull (perhaps forced past its memory limit), skip, or refuse. */
interface PullPlan {
  readonly pull: { server: string; forced: string | null }[];
  readonly skip: { server: string; reason: string }[];
  readonly refuse: { server: string; reason: string }[];
}

/**
 * Where a pull goes: the servers named, every server (`--all`), or the one routing would
 * pick. A server whose `max_memory_gb` the model does not fit is refused when named (a
 * failure), skipped with `--all` (putting a model "everywhere it fits" is what --all is for),
 * and pulled anyway with `--force`.
 */
function planPull(inv: Inventory, row: InventoryModel, args: PullArgs): PullPlan {
  checkServers(inv, args.servers);
  let names: readonly string[];
  if (args.servers !== null) names = args.servers;
  else if (args.all) names = inv.servers.map((s) => s.name);
  else {
    if (row.route === null)
      throw new CliError(`${row.model}: no server to pull it on: ${row.note ?? "none"}`);
    if (!inv.servers.some((s) => s.name === row.route))
      throw new CliError(`${row.model}: ${row.note ?? `routed to ${row.route}`}; there is nothing to pull`);
    names = [row.route];
  }
  const plan: PullPlan = { pull: [], skip: [], refuse: [] };
  for (const server of names) {
    const s = inv.servers.find((x) => x.name === server)!;
    if (row.servers[server]?.fits !== false) {
      plan.pull.push({ server, forced: null });
      continue;
    }
    const reason = `${row.model} needs about ${round(row.need_gb)} GB (${row.need_from}) and ${server}'s max_memory_gb is ${s.max_memory_gb}`;
    if (args.force) plan.pull.push({ server, forced: reason });
    else if (args.all && args.servers === null)
      plan.skip.push({ server, reason: `${reason} (--force to pull anyway)` });
    else plan.refuse.push({ server, reason: `${reason} (--force to pull anyway)` });
  }
  return plan;
}

/** `models pull MODEL`: the pulls run in parallel; the exit code is 1 when any server failed or refused. */
export async function pull(access: FleetAccess, args: PullArgs, io: Io): Promise<number> {
  const inv = await access.inventory([args.model]);
  const row = inv.models.find((m) => m.model === normalizeModel(args.model));
  if (row === undefined) throw new CliError(`${args.model}: not in the inventory ${access.where}`);
  const plan = planPull(inv, row, args);
  const view = pullView(io, args.json);
  for (const r of plan.refuse) view.refused(r.server, r.reason);
  for (const s of plan.skip) view.skipped(s.server, s.reason);
  for (const p of plan.pull) if (p.forced !== null) view.forced(p.server, p.forced);
  view.start(plan.pull.map((p) => p.server));
  const outcomes = await Promise.all(
    plan.pull.map(async ({ server }) => {
      const outcome = await pullOne(access, server, args.model, (line) => view.progress(server, line));
      view.finished(server, outcome);
      return { server, outcome };
    }),
  );
  view.close();
  const failed = [
    ...plan.refuse.map((r) => `${r.server} (refused: ${r.reason})`),
    ...outcomes.flatMap(({ server, outcome }) =>
      outcome.kind === "failed" ? [`${server} (${outcome.error})`] : [],
    ),
  ];
  if (failed.length > 0) throw new CliError(`pull of ${args.model} failed on ${failed.join("; ")}`);
  if (plan.pull.length === 0) throw new CliError(`pull of ${args.model}: no server can take it`);
  return EXIT.ok;
}

/** One server's pull, to its end: done when Ollama said "success", else failed with its error. */
async function pullOne(
  access: FleetAccess,
  server: string,
  model: string,
  progress: (line: Json) => void,
): Promise<PullOutcome> {
  const started = Date.now();
  const totals = new Map<string, number>();
  let success = false;
  let error: string | null = null;
  try {
    await access.pull(server, model, (line) => {
      if (typeof line.error === "string") {
        error = line.error;
        return;
      }
      if (typeof line.digest === "string" && typeof line.total === "number")
        totals.set(line.digest, line.total);
      if (line.status === "success") success = true;
      progress(line);
    });
  } catch (err) {
    error = (err as Error).message;
  }
  if (error !== null) return { kind: "failed", error };
  if (!success) return { kind: "failed", error: "the pull ended without Ollama's success line" };
  const bytes = [...totals.values()].reduce((a, b) => a + b, 0);
  return { kind: "done", bytes, seconds: (Date.now() - started) / 1000 };
}

function round(gb: number): number {
  return Math.round(gb * 10) / 10;
}
