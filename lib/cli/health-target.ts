import { X509Certificate } from "node:crypto";
import { readFileSync, realpathSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parse } from "yaml";
import { readCa } from "../client/front-door.js";
import { ConfigError, loadConfig, resolveConfigLocation } from "../config/load.js";
import type { Config } from "../config/types.js";
import { isSelfSigned } from "../http/tls.js";
import { CliError, EXIT } from "./io.js";
import { readRuntimeFile, runtimeFilePath } from "./runtime-file.js";

/**
 * Where the state folder may be when the config cannot tell: the .deb's, then a checkout's
 * (after the folder of a `database` the broken file still names). Only a runtime file
 * written by a server started with the same config file is taken there.
 */
const KNOWN_STATE_DIRS = ["/var/lib/ollama-proxy", "db"];

/**
 * How to trust an https:// address: CAs (PEM) to add to the system's, and whether the
 * address came from the config or the runtime file (the server's own bound address, which
 * its certificate need not name: the chain is checked, the host name is not).
 */
export interface Trust {
  readonly ca: readonly string[];
  readonly own: boolean;
}

/** Where to probe, and how that was found out; or everything that was tried and why it did not tell. */
export type Target =
  | { kind: "url"; url: string; notes: string[]; trust: Trust }
  | { kind: "unknown"; problems: string[] };

/** Where `health` was told to look: the address, or the config that says it; a CA to trust. */
export interface TargetArgs {
  url?: string | undefined;
  config?: string | undefined;
  env?: string | undefined;
  /** A CA (or self-signed certificate) to trust for an https:// address, besides the system's. */
  ca?: string | undefined;
}

/**
 * --url; else the address the running server recorded in its state folder (found through
 * the config's database, or — when the config cannot be read — in the known state folders);
 * else the config's proxy_port and bind.
 */
export function findTarget(args: TargetArgs): Target {
  const given = givenCa(args.ca);
  if (args.url !== undefined)
    return { kind: "url", url: args.url, notes: [], trust: { ca: given, own: false } };
  const { file, env } = resolveConfigLocation({ file: args.config, env: args.env });
  let config: Config;
  try {
    config = loadConfig({ file: args.config, env: args.env }).config;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return fromStateDirs(file, env, `the config ${file} [${env}] cannot be used (${err.problems[0]})`, given);
  }
  const notes: string[] = [];
  const trust = { ca: [...given, ...configuredTrust(config, notes)], own: true };
  const path = runtimeFilePath(config.database, config.env);
  const found = readRuntimeFile(path);
  if (found.kind === "found" && found.info.env === config.env) {
    if (found.running) return { kind: "url", url: found.info.url, notes, trust };
    return {
      kind: "url",
      url: configUrl(config),
      notes: [
        ...notes,
        `${path} names pid ${found.info.pid}, which is not running; probing the config's address`,
      ],
      trust,
    };
  }
  if (found.kind === "unreadable")
    notes.push(`cannot read ${path} (${found.reason}); probing the config's address`);
  return { kind: "url", url: configUrl(config), notes, trust };
}

/** `--ca PATH` as PEM; a file that is not one is a usage error (exit 64), not a probe result. */
function givenCa(path: string | undefined): string[] {
  if (path === undefined) return [];
  const read = readCa(resolve(path));
  if ("error" in read) throw new CliError(`--ca: ${read.error}`, EXIT.usage);
  return [read.pem];
}

/**
 * What the config says to trust for its own server: `tls.ca`, else the certificate itself when
 * it signed itself (a test pair, or one a private tool made). A file this user cannot read is a note.
 */
function configuredTrust(config: Config, notes: string[]): string[] {
  const tls = config.tls;
  if (tls === null) return [];
  const path = tls.ca ?? tls.cert;
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (err) {
    notes.push(
      `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? err}) to trust the proxy's certificate; pass --ca`,
    );
    return [];
  }
  if (tls.ca !== null) return [pem];
  try {
    return isSelfSigned(new X509Certificate(pem)) ? [pem] : [];
  } catch {
    return [];
  }
}

/** The config is unusable (mid-edit, unreadable): a runtime file of a server started with it still tells. */
function fromStateDirs(file: string, env: string, why: string, ca: readonly string[]): Target {
  const problems = [why];
  const same = (a: string, b: string) => {
    try {
      return realpathSync(a) === realpathSync(b);
    } catch {
      return resolve(a) === resolve(b);
    }
  };
  const raw = rawDatabase(file, env);
  const dirs = raw === null ? KNOWN_STATE_DIRS : [dirname(raw), ...KNOWN_STATE_DIRS];
  for (const dir of new Set(dirs.map((d) => resolve(d)))) {
    const path = runtimeFilePath(join(dir, "x"), env);
    const found = readRuntimeFile(path);
    if (found.kind === "missing") {
      problems.push(`no ${path}`);
    } else if (found.kind === "unreadable") {
      problems.push(`cannot read ${path} (${found.reason})`);
    } else if (!same(found.info.config, file)) {
      problems.push(`${path} is of a server started with ${found.info.config}`);
    } else if (!found.running) {
      problems.push(`${path} names pid ${found.info.pid}, which is not running`);
    } else {
      return {
        kind: "url",
        url: found.info.url,
        notes: [`${why}; probing the address the running server recorded in ${path}`],
        trust: { ca, own: true },
      };
    }
  }
  return { kind: "unknown", problems };
}

/**
 * The section's `database` as written, from a file that parses as YAML but does not validate
 * (a bad value elsewhere): the state folder is still known. null when that is not there.
 */
function rawDatabase(file: string, env: string): string | null {
  try {
    const root = parse(readFileSync(file, "utf8"), { merge: true }) as Record<string, { database?: unknown }>;
    const database = root?.[env]?.database;
    return typeof database === "string" && !database.includes("${") ? resolve(database) : null;
  } catch {
    return null;
  }
}

/** The config's address (https:// with `tls`): loopback when the proxy listens on every interface. */
function configUrl(config: Config): string {
  const host = config.bind === "0.0.0.0" || config.bind === "::" ? "127.0.0.1" : config.bind;
  const scheme = config.tls === null ? "http" : "https";
  return `${scheme}://${host.includes(":") ? `[${host}]` : host}:${config.proxyPort}`;
}
