import type { Argv } from "yargs";
import type { Json } from "../json.js";
import type { InventoryModel } from "../routing/inventory.js";
import { configOptions } from "./common.js";
import {
  type AccessArgs,
  checkServers,
  type FleetAccess,
  openAccess,
  type ServerResult,
} from "./fleet-access.js";
import { CliError, EXIT, type Io } from "./io.js";
import { pull } from "./models-pull.js";
import { formatBytes } from "./pull-progress.js";
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
