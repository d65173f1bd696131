import { readFileSync } from "node:fs";
import { isAlias, isMap, isScalar, parseDocument, visit } from "yaml";
import type { Argv } from "yargs";
import { ConfigError, loadConfig, resolveConfigLocation } from "../config/load.js";
import type { Config } from "../config/types.js";
import { type ConfigArgs, configOptions, jsonOption } from "./common.js";
import { EXIT, type Io, NO_SUBCOMMAND } from "./io.js";
import { checkTlsFiles } from "./tls-check.js";

/** The verdict on one section of the file. */
export interface SectionCheck {
  env: string;
  ok: boolean;
  /** `path: message`, one per problem; any makes the section unusable. */
  errors: string[];
  /** Things that work but look wrong. */
  warnings: string[];
  /** For a usable section: what it would run. */
  summary: {
    enabled_servers: number;
    external_hosts: number;
    listen: string;
    scheme: "http" | "https";
  } | null;
}

interface CheckArgs extends ConfigArgs {
  all: boolean;
  json: boolean;
  offline: boolean;
}

/** `ollama-proxy config check`; `run` records the exit code of the command that ran. */
export function configCommand(yargs: Argv, io: Io, run: (code: Promise<number>) => Promise<void>): Argv {
  return yargs
    .command(
      "check",
      "validate the config file; exit 78 naming every bad key. Warns about memory_patterns no model matches",
      (y) =>
        y
          .options(configOptions)
          .option("all", { type: "boolean", default: false, describe: "check every section of the file" })
          .option("offline", {
            type: "boolean",
            default: false,
            describe: "do not ask the servers for their models (no pattern warnings)",
          })
          .options(jsonOption),
      (a) => run(checkCommand(a, io)),
    )
    .demandCommand(1, NO_SUBCOMMAND);
}

async function checkCommand(args: CheckArgs, io: Io): Promise<number> {
  const { file, env } = resolveConfigLocation({ file: args.config, env: args.env });
  const envs = args.all ? sectionsOf(file) : [env];
  const checks: SectionCheck[] = [];
  // One section at a time: each may poll its servers, and the output keeps the file's order.
  for (const e of envs) checks.push(await checkSection(file, e, !args.offline));
  const ok = checks.every((c) => c.ok);
  if (args.json) {
    io.out(JSON.stringify({ file, ok, sections: checks }));
  } else {
    for (const c of checks) printCheck(io, file, c);
  }
  return ok ? EXIT.ok : EXIT.config;
}

function printCheck(io: Io, file: string, c: SectionCheck): void {
  for (const w of c.warnings) io.err(`warning: ${w}`);
  if (c.ok && c.summary !== null) {
    io.out(
      `${file} [${c.env}]: OK — ${c.summary.enabled_servers} enabled server(s), ${c.summary.external_hosts} external host(s), listening on ${c.summary.listen}${c.summary.scheme === "https" ? " over HTTPS" : ""}`,
    );
  } else {
    io.err(`ollama-proxy: invalid configuration ${file}:\n  ${c.errors.join("\n  ")}`);
  }
}

/** Loads one section and adds the checks that need more than the file. */
export async function checkSection(file: string, env: string, poll: boolean): Promise<SectionCheck> {
  let config: Config;
  let warnings: string[];
  try {
    const loaded = loadConfig({ file, env });
    config = loaded.config;
    warnings = [...loaded.warnings];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { env, ok: false, errors: [...err.problems], warnings: [], summary: null };
  }
  const errors: string[] = [];
  const enabled = config.servers.filter((s) => s.enabled).length;
  const externals = config.externalHosts.filter((h) => h.enabled).length;
  // A proxy with nothing behind it starts, answers every request 503, and looks healthy
  // to nobody: that is a mistake in the file (all servers disabled, a section left empty).
  if (enabled === 0 && externals === 0)
    errors.push(
      `${env}.servers: no enabled server (nor external host): the proxy would have nowhere to send requests`,
    );
  const tls = checkTlsFiles(config);
  errors.push(...tls.errors);
  warnings.push(...tls.warnings);
  if (poll && enabled > 0) warnings.push(...(await fleetWarnings(config)));
  return {
    env,
    ok: errors.length === 0,
    errors,
    warnings,
    summary: {
      enabled_servers: enabled,
      external_hosts: config.externalHosts.length,
      listen: `${config.bind}:${config.proxyPort}`,
      scheme: config.tls === null ? "http" : "https",
    },
  };
}

/**
 * Asks every enabled server what it has (as the proxy's pollers do) and warns about a memory
 * pattern that matches none of the models the servers report: Ollama names models
 * `llama3.1:70b`, so a pattern written for `llama3.1-70b` silently never applies.
 */
async function fleetWarnings(config: Config): Promise<string[]> {
  // Loaded here: the pollers bring pino and the HTTP agents, which a check of the file alone does not need.
  const [{ startFleet }, { silentLog }] = await Promise.all([
    import("../routing/fleet.js"),
    import("../log/app-log.js"),
  ]);
  const fleet = startFleet(config, silentLog());
  try {
    await fleet.ready();
    const warnings: string[] = [];
    const names = new Set<string>();
    // A server that does not answer is left out: it may be starting (the unit runs this
    // check before every start), and `health` is the command that reports it.
    for (const s of fleet.servers()) if (s.health === "up") for (const key of s.models.keys()) names.add(key);
    if (names.size === 0) return warnings;
    const example = [...names][0];
    for (const [i, p] of config.models.memoryPatterns.entries()) {
      const matches = [...names].some((n) => p.regex.test(n) || p.regex.test(n.replace(/:latest$/, "")));
      if (!matches)
        warnings.push(
          `${config.env}.model_config.memory_patterns.${i}.pattern: "${p.source}" matches none of the ${names.size} model(s) the servers report (Ollama writes names like "${example}")`,
        );
    }
    return warnings;
  } finally {
    fleet.close();
  }
}

/**
 * The environment sections of the file, in its order. A section that exists only to be
 * merged into others (`default: &default`, used as `<<: *default`, as Rails configs do) is
 * a template, not an environment, and is left out. A file that cannot be read or parsed
 * yields the default section, whose check then reports why.
 */
export function sectionsOf(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [resolveConfigLocation({ file }).env];
  }
  const doc = parseDocument(text, { merge: true });
  if (doc.errors.length > 0 || !isMap(doc.contents)) return [resolveConfigLocation({ file }).env];
  const aliased = new Set<string>();
  visit(doc, {
    Alias(_, node) {
      if (isAlias(node)) aliased.add(node.source);
    },
  });
  const sections: string[] = [];
  for (const pair of doc.contents.items) {
    if (!isScalar(pair.key)) continue;
    const anchor = (pair.value as { anchor?: string } | null)?.anchor;
    if (anchor !== undefined && aliased.has(anchor)) continue;
    sections.push(String(pair.key.value));
  }
  return sections;
}
