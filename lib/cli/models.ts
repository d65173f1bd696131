import type { Argv } from "yargs";
import type { Json } from "../json.js";
import { normalizeModel } from "../model-name.js";
import type { Inventory, InventoryModel } from "../routing/inventory.js";
import { configOptions } from "./common.js";
import { type AccessArgs, type FleetAccess, openAccess, type ServerResult } from "./fleet-access.js";
import { CliError, EXIT, type Io } from "./io.js";
import { formatBytes, type PullOutcome, pullView } from "./pull-progress.js";
import { formatTable } from "./table.js";

/** How a command's exit code reaches main. */
type Run = (p: Promise<number>) => Promise<void>;

const accessOptions = {
  ...configOptions,
  url: {
    type: "string",
    describe: "go through the proxy at this URL (as an admin) instead of to the servers in the config",
  },
  "token-stdin": {
    type: "boolean",
    describe: "with --url: read the admin token from stdin (else $OLLAMA_PROXY_TOKEN, else `login`'s)",
  },
  ca: {
    type: "string",
    describe: "with --url: PEM file of the private CA that signed the proxy's certificate",
  },
  json: {
    type: "boolean",
    default: false,
    describe: "print JSON (pull: JSON lines) instead of tables and bars",
  },
} as const;

const serversOption = {
  type: "string",
  describe: "only these servers, comma-separated: --servers gpu1,gpu2",
} as const;

/** `ollama-proxy models list|pull|rm|cp`: the models of the whole fleet, managed at once. */
export function modelsCommand(yargs: Argv, io: Io, run: Run): Argv {
  return yargs
    .command(
      "list",
      "every model on every server: present, loaded, size, and where routing sends it",
      (y) => y.options(accessOptions),
      (a) => run(withAccess(a, io, (access) => list(access, a.json, io))),
    )
    .command(
      "pull <model>",
      "pull a model on several servers at once, with progress per server",
      (y) =>
        y
          .options(accessOptions)
          .option("servers", serversOption)
          .option("all", {
            type: "boolean",
            default: false,
            describe: "every server the model fits (default: the one routing would pick)",
          })
          .positional("model", { type: "string", demandOption: true })
          .option("force", {
            type: "boolean",
            default: false,
            describe: "pull also where max_memory_gb says the model does not fit",
          }),
      (a) =>
        run(
          withAccess(a, io, (access) =>
            pull(access, { model: a.model as string, ...targets(a), force: a.force, json: a.json }, io),
          ),
        ),
    )
    .command(
      "rm <model>",
      "delete a model from every server that has it (or from --servers)",
      (y) =>
        y
          .options(accessOptions)
          .option("servers", serversOption)
          .option("all", {
            type: "boolean",
            default: false,
            describe: "every server that has it (the default)",
          })
          .positional("model", { type: "string", demandOption: true }),
      (a) =>
        run(
          withAccess(a, io, (access) => {
            const model = a.model as string;
            const { servers } = targets(a);
            return manage(access, "delete", { model }, servers, a.json, io, `deleted ${model}`);
          }),
        ),
    )
    .command(
      "cp <source> <destination>",
      "copy a model to a new name on every server that has it (or on --servers)",
      (y) =>
        y
          .options(accessOptions)
          .option("servers", serversOption)
          .positional("source", { type: "string", demandOption: true })
          .positional("destination", { type: "string", demandOption: true }),
      (a) =>
        run(
          withAccess(a, io, (access) => {
            const source = a.source as string;
            const destination = a.destination as string;
            const { servers } = targets({ servers: a.servers, all: false });
            const what = `copied ${source} to ${destination}`;
            return manage(access, "copy", { source, destination }, servers, a.json, io, what);
          }),
        ),
    )
    .demandCommand(1, "name a models command: list, pull, rm, cp");
}

async function withAccess(
  args: AccessArgs,
  io: Io,
  fn: (a: FleetAccess) => Promise<number>,
): Promise<number> {
  const access = await openAccess(args, io);
  try {
    return await fn(access);
  } finally {
    access.close();
  }
}

/** `--servers a,b` (or repeated) and `--all`: null servers = no server named. */
function targets(a: { servers?: string | string[] | undefined; all: boolean }): {
  servers: string[] | null;
  all: boolean;
} {
  const given = a.servers === undefined ? [] : [a.servers].flat();
  const servers = given.flatMap((s) => s.split(",")).map((s) => s.trim());
  if (a.servers !== undefined && servers.some((s) => s === ""))
    throw new CliError("--servers takes server names separated by commas: --servers gpu1,gpu2", EXIT.usage);
  if (a.servers !== undefined && a.all) throw new CliError("give --servers or --all, not both", EXIT.usage);
  return { servers: a.servers === undefined ? null : [...new Set(servers)], all: a.all };
}

/** Fails with the fleet's server names when `--servers` names one it does not have. */
function checkServers(inventory: Inventory, servers: readonly string[] | null): void {
  if (servers === null) return;
  const known = inventory.servers.map((s) => s.name);
  const unknown = servers.filter((s) => !known.includes(s));
  if (unknown.length > 0)
    throw new CliError(
      `no enabled server named ${unknown.map((s) => `"${s}"`).join(", ")}; the fleet has: ${known.join(", ") || "none"}`,
      EXIT.usage,
    );
}

/** `models list` */
async function list(access: FleetAccess, json: boolean, io: Io): Promise<number> {
  const inv = await access.inventory([]);
  if (json) {
    io.out(JSON.stringify(inv));
    return EXIT.ok;
  }
  if (inv.servers.length === 0) {
    io.out(`no enabled servers (${access.where})`);
    return EXIT.ok;
  }
  const header = [
    "MODEL",
    "SIZE",
    "ROUTE",
    ...inv.servers.map((s) => (s.state === "up" ? s.name : `${s.name} (${s.state})`)),
  ];
  const rows = inv.models.map((m) => [
    m.model,
    m.size === null ? "-" : formatBytes(m.size),
    m.route ?? "none",
    ...inv.servers.map((s) => cell(m, s.name)),
  ]);
  io.out(rows.length === 0 ? `no models on any server (${access.where})` : formatTable(header, rows));
  for (const m of inv.models) if (m.note !== null) io.out(`${m.model}: ${m.note}`);
  for (const s of inv.servers)
    if (s.state === "down") io.out(`${s.name} is down: ${s.error ?? "unknown reason"}`);
  return EXIT.ok;
}

/** `loaded`, `yes` (present), `-`, or `too big` (absent, and its max_memory_gb does not admit it). */
function cell(m: InventoryModel, server: string): string {
  const on = m.servers[server];
  if (on === undefined) return "?";
  if (on.loaded) return "loaded";
  if (on.present) return "yes";
  return on.fits ? "-" : "too big";
}

interface PullArgs {
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
async function pull(access: FleetAccess, args: PullArgs, io: Io): Promise<number> {
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

/** `models rm` and `models cp`: one line (or JSON entry) per server; exit 1 naming the servers that failed. */
async function manage(
  access: FleetAccess,
  op: "copy" | "delete",
  body: Json,
  servers: string[] | null,
  json: boolean,
  io: Io,
  what: string,
): Promise<number> {
  if (servers !== null) checkServers(await access.inventory([]), servers);
  const results = await access.manage(op, body, servers);
  const model = String(op === "copy" ? body.source : body.model);
  if (json) io.out(JSON.stringify({ op, ...body, servers: results }));
  else for (const r of results) io.out(`${r.server}: ${r.ok ? what : `failed${statusOf(r)}: ${r.error}`}`);
  if (results.length === 0) throw new CliError(`no server has ${model} (${access.where})`);
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0)
    throw new CliError(
      `${op} of ${model} failed on ${failed.map((r) => `${r.server} (${r.error})`).join("; ")}`,
    );
  return EXIT.ok;
}

function statusOf(r: ServerResult): string {
  return r.status === null ? "" : ` (${r.status})`;
}

function round(gb: number): number {
  return Math.round(gb * 10) / 10;
}
