import type { Argv } from "yargs";
import { ConfigError, loadConfig } from "../config/load.js";
import type { Config } from "../config/types.js";
import { parseSignedDuration } from "../duration.js";
import type { Store } from "../store/open.js";
import { type User, UserError } from "../store/users.js";
import {
  actAsDataOwner,
  configOptions,
  type DatabaseArgs,
  databaseOption,
  databasePath,
  jsonOption,
  openForReading,
  openOrFail,
} from "./common.js";
import { CliError, EXIT, type Io, NO_SUBCOMMAND } from "./io.js";
import { formatIso, formatTable, formatTime } from "./table.js";
import { checkPolicyDefined, showJson, showReport, showText } from "./users-show.js";

/** What a user's token does right now: the stored flag alone would call an expired user active. */
export type UserState = "active" | "deactivated" | "expired";

/** Deactivated wins over expired: it is what an admin did, and what undoes it. */
export function userState(u: User, now = Date.now()): UserState {
  if (!u.active) return "deactivated";
  return u.expiresAt !== null && u.expiresAt <= now ? "expired" : "active";
}

function userJson(u: User) {
  return {
    name: u.name,
    role: u.role,
    active: u.active,
    expired: u.expiresAt !== null && u.expiresAt <= Date.now(),
    state: userState(u),
    token_prefix: u.tokenPrefix,
    expires_at: u.expiresAt === null ? null : new Date(u.expiresAt).toISOString(),
    created_at: new Date(u.createdAt).toISOString(),
    last_used_at: u.lastUsedAt === null ? null : new Date(u.lastUsedAt).toISOString(),
    policy: u.policy,
  };
}

/**
 * Runs `fn` against the database (`--database`, else the config's); user errors become CLI
 * errors. `check` vets the arguments before the database is opened (or created) for them.
 */
function withUsers<T>(args: DatabaseArgs, fn: (users: Store["users"]) => T, check?: () => void): T {
  const database = databasePath(args);
  check?.();
  actAsDataOwner(database);
  const store = openOrFail(database);
  try {
    return fn(store.users);
  } catch (err) {
    if (err instanceof UserError) throw new CliError(err.message);
    throw err;
  } finally {
    store.close();
  }
}

/** The config, when it can be read: what the policies are. With --database it may be missing or broken. */
function configIfAny(args: DatabaseArgs): Config | null {
  try {
    return loadConfig({ file: args.config, env: args.env }).config;
  } catch (err) {
    if (err instanceof ConfigError && args.database) return null;
    if (err instanceof ConfigError) throw new CliError(err.message, EXIT.config);
    throw err;
  }
}

/** The config for a command that needs the policies it defines. */
function policyConfig(args: DatabaseArgs, what: string): Config {
  const config = configIfAny(args);
  if (config === null)
    throw new CliError(
      `${what} needs the config that defines the policies, and it cannot be read (--config PATH)`,
    );
  return config;
}

function expiry(text: string | undefined): number | null {
  if (text === undefined) return null;
  const d = parseSignedDuration(text);
  if (d?.negative)
    throw new CliError(
      `--expires-in: "${text}" is in the past; give the token's lifetime from now, like 90m, 24h, 30d or 2w (to stop a token now: users deactivate NAME)`,
      EXIT.usage,
    );
  if (d === null)
    throw new CliError(`--expires-in: "${text}" is not a duration like 90m, 24h, 30d or 2w`, EXIT.usage);
  return Date.now() + d.ms;
}

/** `--policy P` / `--no-policy` as given: a name, null (none), or undefined (not given). */
function policyArg(value: unknown): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === false) return null;
  if (Array.isArray(value))
    throw new CliError("give either --policy NAME or --no-policy, not both", EXIT.usage);
  if (typeof value !== "string" || value === "")
    throw new CliError("--policy needs the name of a policy defined in the config", EXIT.usage);
  return value;
}

/**
 * The POLICY column: the assigned name, `(default)` when the config's default applies,
 * flagged when the config does not define it; as stored when there is no config to ask.
 */
function policyCell(u: User, config: Config | null): string {
  if (config === null) return u.policy ?? "-";
  if (u.policy === null) return config.policies?.has("default") ? "(default)" : "-";
  return config.policies?.has(u.policy) ? u.policy : `${u.policy} (undefined: refused)`;
}

/** The users in the database, read-only: a listing never creates a database. */
function listUsers(args: DatabaseArgs, io: Io): User[] | null {
  const database = databasePath(args);
  const store = openForReading(database);
  if (store === null) {
    if (args.database) throw new CliError(`no database at ${database}`);
    io.err(`(no database at ${database} yet: \`serve\` or \`users create\` creates it)`);
    return null;
  }
  try {
    return store.users.list();
  } catch (err) {
    // A file that exists but was never migrated (created by hand, or by a crashed first start).
    if (/no such table/.test((err as Error).message)) return null;
    throw err;
  } finally {
    store.close();
  }
}

function printToken(io: Io, json: boolean, verb: string, u: User, token: string): void {
  if (json) {
    io.out(JSON.stringify({ ...userJson(u), token }));
    return;
  }
  io.out(
    `${verb} ${u.role === "admin" ? "admin" : "user"} ${u.name}${u.expiresAt ? ` (expires ${formatTime(u.expiresAt)} UTC)` : ""}.`,
  );
  io.out("API token (shown once; store it now, it cannot be recovered):");
  io.out(token);
}

/** `ollama-proxy users ...` */
export function usersCommand(yargs: Argv, io: Io): Argv {
  const nameArg = (y: Argv) =>
    y
      .options({ ...configOptions, ...databaseOption })
      .positional("name", { type: "string", demandOption: true, describe: "the user's name" });
  const withJson = (y: Argv) => nameArg(y).options(jsonOption);
  return yargs
    .command(
      "create <name>",
      "create a user and print its API token (once)",
      (y) =>
        nameArg(y)
          .option("admin", {
            type: "boolean",
            default: false,
            describe: "may pull, push, create, copy and delete models",
          })
          .option("expires-in", { type: "string", describe: "token lifetime, e.g. 30d, 12h, 2w" })
          .option("policy", {
            type: "string",
            describe: "a policy the config defines (default: its `default`)",
          })
          .options(jsonOption),
      (a) => {
        // Arguments are checked before the database is opened (or created) for them.
        const expiresAt = expiry(a["expires-in"]);
        const policy = policyArg(a.policy) ?? null;
        const { user, token } = withUsers(
          a,
          (users) => users.create(a.name as string, { role: a.admin ? "admin" : "user", expiresAt, policy }),
          () => {
            if (policy !== null) checkPolicyDefined(policyConfig(a, "--policy"), policy);
          },
        );
        printToken(io, a.json, "Created", user, token);
      },
    )
    .command(
      "list",
      "list users and their state (never their tokens); read-only",
      (y) => y.options({ ...configOptions, ...databaseOption, ...jsonOption }),
      (a) => {
        const list = listUsers(a, io) ?? [];
        if (a.json) {
          io.out(JSON.stringify(list.map(userJson)));
          return;
        }
        if (list.length === 0) {
          io.out(
            `No users yet. Create one with: ${io.command ?? "ollama-proxy"} users create NAME [--admin]`,
          );
          return;
        }
        const config = configIfAny(a);
        io.out(
          formatTable(
            ["NAME", "ROLE", "POLICY", "STATE", "TOKEN", "EXPIRES", "LAST USED", "CREATED"],
            list.map((u) => [
              u.name,
              u.role,
              policyCell(u, config),
              userState(u),
              `${u.tokenPrefix}…`,
              formatIso(u.expiresAt),
              formatIso(u.lastUsedAt),
              formatIso(u.createdAt),
            ]),
          ),
        );
      },
    )
    .command(
      "deactivate <name>",
      "refuse the user's token from now on (the running server applies it within 2 s)",
      withJson,
      (a) => {
        const user = withUsers(a, (users) => users.setActive(a.name as string, false));
        io.out(a.json ? JSON.stringify(userJson(user)) : `Deactivated ${a.name}.`);
      },
    )
    .command("activate <name>", "accept the user's token again", withJson, (a) => {
      const user = withUsers(a, (users) => users.setActive(a.name as string, true));
      io.out(a.json ? JSON.stringify(userJson(user)) : `Activated ${a.name}.`);
    })
    .command("delete <name>", "delete the user (its request-log rows stay)", withJson, (a) => {
      withUsers(a, (users) => users.remove(a.name as string));
      io.out(a.json ? JSON.stringify({ name: a.name, deleted: true }) : `Deleted ${a.name}.`);
    })
    .command(
      "rotate <name>",
      "issue a new token; the old one stops working at once",
      (y) =>
        nameArg(y)
          .option("expires-in", {
            type: "string",
            describe: "lifetime of the new token (default: keep the current expiry)",
          })
          .options(jsonOption),
      (a) => {
        const exp = a["expires-in"] === undefined ? undefined : expiry(a["expires-in"]);
        const { user, token } = withUsers(a, (users) => users.rotate(a.name as string, { expiresAt: exp }));
        printToken(io, a.json, "Rotated the token of", user, token);
      },
    )
    .command(
      "set <name>",
      "change a user's policy, role or expiry (the running server applies it within 2 s)",
      (y) =>
        nameArg(y)
          .option("policy", {
            type: "string",
            describe: "assign a policy the config defines; --no-policy: back to the config's default",
          })
          .option("admin", { type: "boolean", describe: "make an admin; --no-admin: a plain user" })
          .option("expires-in", {
            type: "string",
            describe: "the token expires this long from now, e.g. 30d",
          })
          .options(jsonOption),
      (a) => {
        const policy = policyArg(a.policy);
        const expiresAt = a["expires-in"] === undefined ? undefined : expiry(a["expires-in"]);
        const role = a.admin === undefined ? undefined : a.admin ? ("admin" as const) : ("user" as const);
        if (policy === undefined && expiresAt === undefined && role === undefined) {
          throw new CliError(
            "users set: nothing to change; give --policy NAME, --no-policy, --admin, --no-admin or --expires-in D",
            EXIT.usage,
          );
        }
        const user = withUsers(
          a,
          (users) => users.update(a.name as string, { policy, role, expiresAt }),
          () => {
            if (typeof policy === "string") checkPolicyDefined(policyConfig(a, "--policy"), policy);
          },
        );
        if (a.json) {
          io.out(JSON.stringify(userJson(user)));
          return;
        }
        io.out(
          `Updated ${user.name}: policy ${user.policy ?? "(default)"}, role ${user.role}, expires ${user.expiresAt === null ? "never" : `${formatTime(user.expiresAt)} UTC`}.`,
        );
      },
    )
    .command(
      "show <name>",
      "a user, its policy, and today's use against the policy's limits",
      withJson,
      (a) => {
        const config = policyConfig(a, "users show");
        const database = databasePath(a);
        // Read-only, like list: it never creates a database.
        const store = openForReading(database);
        if (store === null) throw new CliError(`no database at ${database}`);
        let report: ReturnType<typeof showReport>;
        try {
          report = showReport(store, config, a.name as string, Date.now());
        } catch (err) {
          if (err instanceof UserError) throw new CliError(err.message);
          throw err;
        } finally {
          store.close();
        }
        io.out(a.json ? JSON.stringify(showJson(report, userJson)) : showText(report, config));
      },
    )
    .demandCommand(1, NO_SUBCOMMAND);
}
