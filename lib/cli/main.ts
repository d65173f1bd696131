import yargs from "yargs";
import { VERSION } from "../version.js";
import { configOptions, databaseOption, jsonOption } from "./common.js";
import { configCommand } from "./config.js";
import { connectCommand } from "./connect.js";
import { health } from "./health.js";
import { CliError, EXIT, type Io, NO_SUBCOMMAND, processIo } from "./io.js";
import { loginCommand, logoutCommand, whoamiCommand } from "./login.js";
import { modelsCommand } from "./models.js";
import { GROUP_KEYS, SORT_KEYS, usage } from "./usage-report.js";
import { usersCommand } from "./users.js";

/**
 * Options whose value may start with a dash (`--expires-in -5m`, `--since -2h`): yargs would
 * read `-5m` as the flags -5 and -m, so such a value is attached to its option first and the
 * command judges it (`--since -2h` means 2 hours ago; `--expires-in -5m` is refused, clearly).
 */
const SIGNED_VALUE_OPTIONS = new Set(["--expires-in", "--since", "--until"]);

/** `--since -2h` → `--since=-2h`, for the options above only. */
export function attachSignedValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (SIGNED_VALUE_OPTIONS.has(arg) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/**
 * The whole CLI as a function: parses argv, runs one command, resolves to its exit code.
 * Only bin/ollama-proxy calls process.exit.
 */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  let code: number = EXIT.ok;
  const run = (p: Promise<number>) =>
    p.then((c) => {
      code = c;
    });
  const args = attachSignedValues(argv);
  const cli = yargs(args)
    .scriptName("ollama-proxy")
    .usage("$0 <command> [options]\n\nOne front door for a fleet of Ollama servers.")
    .epilogue(
      "Exit codes: 0 ok; 1 failed (health: degraded); 2 health: down or unreachable; 64 bad command line; 78 bad config. See man 8 ollama-proxy.",
    )
    .version(VERSION)
    .alias("version", "V")
    .help()
    .alias("help", "h")
    .strict()
    .exitProcess(false)
    .wrap(Math.min(110, process.stdout.columns || 110))
    .command(
      "serve",
      "run the proxy in the foreground (what systemd runs)",
      (y) =>
        y
          .options(configOptions)
          .option("port", { type: "number", describe: "listen on this port instead of proxy_port" }),
      // Loaded when used: the server's modules (pino, prom-client) are most of
      // what a CLI start costs, and the other commands need none of them.
      (a) => run(import("./serve.js").then((m) => m.serve(a, io))),
    )
    .command("users", "create, list, show, set, deactivate, activate, delete and rotate users", (y) =>
      usersCommand(y, io),
    )
    .command("config", "check the configuration file", (y) => configCommand(y, io, run))
    .command(
      "health",
      "ask a running proxy for its health: exit 0 ok, 1 degraded, 2 down or unreachable",
      (y) =>
        y
          .options(configOptions)
          .option("url", {
            type: "string",
            describe:
              "proxy address (default: the one the running server recorded in its state folder, else the config's)",
          })
          .options(jsonOption)
          .option("timeout", { type: "number", default: 5000, describe: "ms to wait for an answer" })
          .option("ca", {
            type: "string",
            describe:
              "PEM file of the CA that signed the proxy's certificate (or the certificate itself) for an https:// address",
          }),
      (a) => run(health(a, io)),
    )
    .command(
      "route <model>",
      "show which server a model would go to, and why not the others",
      (y) =>
        y
          .options(configOptions)
          .positional("model", { type: "string", demandOption: true, describe: "a model name, e.g. llama3" })
          .options(jsonOption),
      (a) => run(import("./route.js").then((m) => m.route({ ...a, model: a.model as string }, io))),
    )
    .command(
      "usage",
      "requests, tokens, errors and latency from the request log, grouped and totalled",
      (y) =>
        y
          .options({ ...configOptions, ...databaseOption })
          .option("since", {
            type: "string",
            default: "24h",
            describe: "start: a duration ago (90m, 24h, 30d, 2w; -24h alike) or a date (2026-03-01[T09:00])",
          })
          .option("until", { type: "string", describe: "end, written like --since (default: now)" })
          .option("by", {
            type: "string",
            default: "user,model",
            describe: `group rows by any of ${GROUP_KEYS.join(", ")} (comma-separated, in that order)`,
          })
          .option("user", { type: "string", describe: "only this user" })
          .option("model", { type: "string", describe: "only this model" })
          .option("server", { type: "string", describe: "only this server (or external host)" })
          .option("sort", {
            type: "string",
            choices: SORT_KEYS,
            describe: "order of the rows: key (the grouping, default) or a column, largest first",
          })
          .option("top", {
            type: "number",
            describe: "only the first N rows (sorted by requests unless --sort)",
          })
          .option("format", {
            type: "string",
            choices: ["table", "json", "csv"],
            default: "table",
            describe: "table for people; json or csv for scripts and spreadsheets",
          })
          .option("json", { type: "boolean", default: false, describe: "same as --format json" }),
      (a) => run(usage(a, io)),
    )
    .command("models", "list, pull, remove and copy models on every server of the fleet at once", (y) =>
      modelsCommand(y, io, run),
    )
    .command(loginCommand(io))
    .command(logoutCommand(io))
    .command(whoamiCommand(io))
    .command(connectCommand(io))
    .demandCommand(1, NO_SUBCOMMAND)
    .fail((msg, err) => {
      throw err ?? new CliError(msg, EXIT.usage);
    });
  try {
    let printed = "";
    // With a callback, yargs hands over what it would print (--help, --version) instead of
    // writing to the console, so that it goes through `io` like everything else.
    await cli.parseAsync(args, {}, (_err, _argv, output) => {
      printed = output;
    });
    if (printed) io.out(printed);
    return code;
  } catch (err) {
    // A bare command (`ollama-proxy`, `ollama-proxy users`): its help, not an error.
    if (err instanceof CliError && err.message === NO_SUBCOMMAND && !argv.includes("--help"))
      return main([...argv, "--help"], io);
    if (err instanceof CliError) {
      io.err(`ollama-proxy: ${err.message}`);
      if (err.exitCode === EXIT.usage) io.err("Run ollama-proxy --help for usage.");
      return err.exitCode;
    }
    io.err(`ollama-proxy: ${(err as Error).stack ?? err}`);
    return EXIT.failure;
  }
}
