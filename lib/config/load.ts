import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Ajv, type ErrorObject } from "ajv";
import { parseDocument } from "yaml";
import schema from "../../schema/ollama-proxy.schema.json" with { type: "json" };
import { isObject } from "../json.js";
import { build, type RawSection } from "./build.js";
import { checkValues } from "./checks.js";
import type { Config } from "./types.js";

/** A config file that cannot be used; `problems` holds one `path: message` line each. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(file: string, problems: string[]) {
    super(`invalid configuration ${file}:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

export interface LoadOptions {
  /** Config file; else $OLLAMA_PROXY_CONFIG; else config/ollama_proxy.yml. */
  file?: string | undefined;
  /** Section; else $OLLAMA_PROXY_ENV; else development. */
  env?: string | undefined;
  /** Where ${VAR} and the defaults above are looked up (process.env by default). */
  environ?: NodeJS.ProcessEnv;
  /** Relative paths in the file (database, logging.dir) resolve against this (default: cwd). */
  cwd?: string;
}

export interface Loaded {
  readonly config: Config;
  /** Things that work but look wrong (an assignment to an unknown host); printed at start and by `config check`. */
  readonly warnings: readonly string[];
}

export const DEFAULT_CONFIG_FILE = "config/ollama_proxy.yml";

/** Which file and section `loadConfig` will read, before reading it. */
export function resolveConfigLocation(opts: LoadOptions = {}): { file: string; env: string } {
  const environ = opts.environ ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  // An empty variable counts as unset (systemd's `Environment=OLLAMA_PROXY_ENV=` clears it).
  return {
    file: resolve(cwd, opts.file || environ["OLLAMA_PROXY_CONFIG"] || DEFAULT_CONFIG_FILE),
    env: opts.env || environ["OLLAMA_PROXY_ENV"] || "development",
  };
}

const ajv = new Ajv({ allErrors: true, coerceTypes: true, useDefaults: false, strict: false });
// Compiled on first use: it is most of what importing this module costs, and CLI commands
// that never read a config (--version, --help, `users … --database`) should not pay it.
let compiled: ReturnType<typeof ajv.compile> | undefined;
const validator = () => {
  compiled ??= ajv.compile(schema);
  return compiled;
};

/** Reads, expands, validates and freezes one section of the config file. Throws ConfigError. */
export function loadConfig(opts: LoadOptions = {}): Loaded {
  const { file, env } = resolveConfigLocation(opts);
  const environ = opts.environ ?? process.env;
  const cwd = opts.cwd ?? process.cwd();

  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(file, [`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? err})`]);
  }
  // Rails configs share settings with `<<: *default` (Psych merges them); YAML 1.2 would read
  // `<<` as a plain key, and the original's files must load unchanged.
  const doc = parseDocument(text, { prettyErrors: true, merge: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => `${file}:${e.linePos?.[0]?.line ?? "?"}: ${e.message.split("\n")[0]}`),
    );
  }
  const root: unknown = doc.toJS();
  if (!isObject(root)) {
    throw new ConfigError(file, [`${file}: must be a mapping of environment names to sections`]);
  }
  // Own keys only: "toString" or "__proto__" is not a section of the file.
  if (!Object.hasOwn(root, env)) {
    const known = Object.keys(root).join(", ") || "none";
    throw new ConfigError(file, [`${env}: no such section (the file has: ${known})`]);
  }

  // Every problem is collected before any is reported: one run of `config check` names them all.
  const problems: string[] = [];
  const section = expandVariables(root[env] ?? {}, env, environ, problems);
  // A key whose variable is unset is already named; its emptied value is not a second problem.
  const unset = problems.map((p) => p.slice(0, p.indexOf(": ")));

  // The schema describes the whole file; validating {env: section} makes each error path start with the env.
  const wrapped = { [env]: section };
  const validateFile = validator();
  const valid = validateFile(wrapped);
  for (const e of valid ? [] : (validateFile.errors ?? [])) {
    const line = formatAjvError(e);
    if (!unset.some((path) => line.startsWith(`${path}:`) || line.startsWith(`${path}.`)))
      problems.push(line);
  }
  checkValues(wrapped[env], env, problems);
  if (problems.length > 0 || !valid) throw new ConfigError(file, problems);

  const warnings: string[] = [];
  const config = build(wrapped[env] as RawSection, env, file, cwd, warnings);
  return { config: deepFreeze(config), warnings };
}

/** Replaces `${VAR}` in every string value; an unset variable is a problem named by its path. */
function expandVariables(
  value: unknown,
  path: string,
  environ: NodeJS.ProcessEnv,
  problems: string[],
): unknown {
  if (typeof value === "string") {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = environ[name];
      if (v === undefined) {
        problems.push(`${path}: environment variable ${name} is not set`);
        return "";
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandVariables(v, `${path}.${i}`, environ, problems));
  if (isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k] = expandVariables(v, `${path}.${k}`, environ, problems);
    return out;
  }
  return value;
}

function formatAjvError(e: ErrorObject): string {
  const path = e.instancePath.slice(1).replaceAll("/", ".").replaceAll("~1", "/").replaceAll("~0", "~");
  switch (e.keyword) {
    case "additionalProperties":
      return `${path}.${(e.params as { additionalProperty: string }).additionalProperty}: unknown key`;
    case "required":
      return `${path}.${(e.params as { missingProperty: string }).missingProperty}: is required`;
    case "enum":
      return `${path}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return `${path}: ${e.message ?? "is invalid"}`;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value) && !(value instanceof RegExp)) {
    if (value instanceof Map) {
      for (const v of value.values()) deepFreeze(v);
    } else {
      for (const v of Object.values(value)) deepFreeze(v);
    }
    Object.freeze(value);
  }
  return value;
}
