import { ConfigError, type Loaded, loadConfig } from "../config/load.js";
import { openStore, type Store, StoreError } from "../store/open.js";
import { CliError, EXIT } from "./io.js";

/** Options every command that reads the config accepts. */
export interface ConfigArgs {
  config?: string | undefined;
  env?: string | undefined;
}

export const configOptions = {
  config: {
    type: "string",
    describe: "config file (default: $OLLAMA_PROXY_CONFIG or config/ollama_proxy.yml)",
  },
  env: { type: "string", describe: "config section (default: $OLLAMA_PROXY_ENV or development)" },
} as const;

/** Loads the config or fails with every problem listed, one `path: message` per line. */
export function loadOrFail(args: ConfigArgs): Loaded {
  try {
    return loadConfig({ file: args.config, env: args.env });
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, EXIT.config);
    throw err;
  }
}

/** Opens the configured database or fails with a message that names the file. */
export function openOrFail(path: string, opts: { readonly?: boolean } = {}): Store {
  try {
    return openStore(path, opts);
  } catch (err) {
    if (err instanceof StoreError) throw new CliError(err.message, EXIT.failure);
    throw err;
  }
}
