import type { Argv } from "yargs";
import { configOptions, loadOrFail } from "./common.js";
import type { Io } from "./io.js";

/** `ollama-proxy config check` */
export function configCommand(yargs: Argv, io: Io): Argv {
  return yargs
    .command(
      "check",
      "validate the config file; exit non-zero naming every bad key",
      (y) => y.options(configOptions),
      (a) => {
        const { config, warnings } = loadOrFail(a);
        for (const w of warnings) io.err(`warning: ${w}`);
        const enabled = config.servers.filter((s) => s.enabled).length;
        io.out(
          `${config.file} [${config.env}]: OK — ${enabled} enabled server(s), ${config.externalHosts.length} external host(s), listening on ${config.bind}:${config.proxyPort}`,
        );
      },
    )
    .demandCommand(1, "name a config command: check");
}
