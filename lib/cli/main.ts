import yargs from "yargs";
import { VERSION } from "../version.js";
import { configOptions } from "./common.js";
import { configCommand } from "./config.js";
import { connectCommand } from "./connect.js";
import { health } from "./health.js";
import { CliError, EXIT, type Io, processIo } from "./io.js";
import { loginCommand, logoutCommand, whoamiCommand } from "./login.js";
import { modelsCommand } from "./models.js";
import { route } from "./route.js";
import { serve } from "./serve.js";
import { usage } from "./usage.js";
import { usersCommand } from "./users.js";

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
  const cli = yargs([...argv])
    .scriptName("ollama-proxy")
    .usage("$0 <command> [options]\n\nOne front door for a fleet of Ollama servers.")
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
      (a) => run(serve(a, io)),
    )
    .command("users", "create, list, show, set, deactivate, activate, delete and rotate users", (y) =>
      usersCommand(y, io),
    )
    .command("config", "check the configuration file", (y) => configCommand(y, io))
    .command(
      "health",
      "ask a running proxy for its health: exit 0 ok, 1 degraded, 2 down or unreachable",
      (y) =>
        y
          .options(configOptions)
          .option("url", { type: "string", describe: "proxy address (default: from the config)" })
          .option("json", { type: "boolean", default: false })
          .option("timeout", { type: "number", default: 5000, describe: "ms to wait for an answer" }),
      (a) => run(health(a, io)),
    )
    .command(
      "route <model>",
      "show which server a model would go to, and why not the others",
      (y) =>
        y
          .options(configOptions)
          .positional("model", { type: "string", demandOption: true })
          .option("json", { type: "boolean", default: false }),
      (a) => run(route({ ...a, model: a.model as string }, io)),
    )
    .command(
      "usage",
      "requests, tokens, errors and latency per user and model, from the request log",
      (y) =>
        y
          .options(configOptions)
          .option("user", { type: "string", describe: "only this user" })
          .option("model", { type: "string", describe: "only this model" })
          .option("since", { type: "string", default: "24h", describe: "how far back: 90m, 24h, 30d, 2w" })
          .option("json", { type: "boolean", default: false }),
      (a) => run(Promise.resolve(usage(a, io))),
    )
    .command("models", "list, pull, remove and copy models on every server of the fleet at once", (y) =>
      modelsCommand(y, io, run),
    )
    .command(loginCommand(io))
    .command(logoutCommand(io))
    .command(whoamiCommand(io))
    .command(connectCommand(io))
    .demandCommand(1, "name a command (see --help)")
    .fail((msg, err) => {
      throw err ?? new CliError(msg, EXIT.usage);
    });
  try {
    await cli.parseAsync();
    return code;
  } catch (err) {
    if (err instanceof CliError) {
      io.err(`ollama-proxy: ${err.message}`);
      if (err.exitCode === EXIT.usage) io.err("Run ollama-proxy --help for usage.");
      return err.exitCode;
    }
    io.err(`ollama-proxy: ${(err as Error).stack ?? err}`);
    return EXIT.failure;
  }
}
