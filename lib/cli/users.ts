import type { Argv } from "yargs";
import type { Config } from "../config/types.js";
import { parseDuration } from "../duration.js";
import type { Store } from "../store/open.js";
import { type User, UserError } from "../store/users.js";
import { actAsDataOwner, type ConfigArgs, configOptions, loadOrFail, openOrFail } from "./common.js";
import { CliError, EXIT, type Io } from "./io.js";
import { formatTable, formatTime } from "./table.js";
import { checkPolicyDefined, showJson, showReport, showText } from "./users-show.js";

function userJson(u: User) {
  return {
    name: u.name,
    role: u.role,
    active: u.active,
    token_prefix: u.tokenPrefix,
    expires_at: u.expiresAt === null ? null : new Date(u.expiresAt).toISOString(),
    created_at: new Date(u.createdAt).toISOString(),
    last_used_at: u.lastUsedAt === null ? null : new Date(u.lastUsedAt).toISOString(),
    policy: u.policy,
  };
}

/**
 * Runs `fn` against the configured database; user errors become CLI errors. `check` vets the
 * arguments against the config before the database is opened (or created) for them.
 */
function withUsers<T>(
  args: ConfigArgs,
  fn: (users: Store["users"], config: Config, store: Store) => T,
  check?: (config: Config) => void,
): T {
  const { config } = loadOrFail(args);
  check?.(config);
  actAsDataOwner(config);
  const store = openOrFail(config.database);
  try {
    return fn(store.users, config, store);
  } catch (err) {
    if (err instanceof UserError) throw new CliError(err.message);
    throw err;
  } finally {
    store.close();
  }
}

function expiry(text: string | undefined): number | null {
  if (text === undefined) return null;
  const ms = parseDuration(text);
  if (ms === null)
    throw new CliError(`--expires-in: "${text}" is not a duration like 90m, 24h, 30d or 2w`, EXIT.usage);
  return Date.now() + ms;
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

/** The POLICY column: the assigned name, `(default)` when the config's default applies, flagged when undefined. */
function policyCell(u: User, config: Config): string {
  if (u.policy === null) return config.policies?.has("default") ? "(default)" : "-";
  return config.policies?.has(u.policy) ? u.policy : `${u.policy} (undefined: refused)`;
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
    y.options(configOptions).positional("name", { type: "string", demandOption: true });
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
          .option("json", { type: "boolean", default: false }),
      (a) => {
        // Arguments are checked before the database is opened (or created) for them.
        const expiresAt = expiry(a["expires-in"]);
        const policy = policyArg(a.policy) ?? null;
        const { user, token } = withUsers(
          a,
          (users) => users.create(a.name as string, { role: a.admin ? "admin" : "user", expiresAt, policy }),
          (config) => {
            if (policy !== null) checkPolicyDefined(config, policy);
          },
        );
        printToken(io, a.json, "Created", user, token);
      },
    )
    .command(
      "list",
      "list users (never their tokens)",
      (y) => y.options(configOptions).option("json", { type: "boolean", default: false }),
      (a) => {
        const { list, config } = withUsers(a, (users, config) => ({ list: users.list(), config }));
        if (a.json) {
          io.out(JSON.stringify(list.map(userJson)));
          return;
        }
        if (list.length === 0) {
          io.out("No users yet. Create one with: ollama-proxy users create NAME [--admin]");
          return;
        }
        io.out(
          formatTable(
            ["NAME", "ROLE", "POLICY", "ACTIVE", "TOKEN", "EXPIRES", "LAST USED", "CREATED"],
            list.map((u) => [
              u.name,
              u.role,
              policyCell(u, config),
              u.active ? "yes" : "no",
              `${u.tokenPrefix}…`,
              formatTime(u.expiresAt),
              formatTime(u.lastUsedAt),
              formatTime(u.createdAt),
            ]),
          ),
        );
      },
    )
    .command(
      "deactivate <name>",
      "refuse the user's token from now on (the running server applies it within 2 s)",
      nameArg,
      (a) => {
        withUsers(a, (users) => users.setActive(a.name as string, false));
        io.out(`Deactivated ${a.name}.`);
      },
    )
    .command("activate <name>", "accept the user's token again", nameArg, (a) => {
      withUsers(a, (users) => users.setActive(a.name as string, true));
      io.out(`Activated ${a.name}.`);
    })
    .command("delete <name>", "delete the user (its request-log rows stay)", nameArg, (a) => {
      withUsers(a, (users) => users.remove(a.name as string));
      io.out(`Deleted ${a.name}.`);
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
          .option("json", { type: "boolean", default: false }),
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
          .option("json", { type: "boolean", default: false }),
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
          (config) => {
            if (typeof policy === "string") checkPolicyDefined(config, policy);
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
      (y) => nameArg(y).option("json", { type: "boolean", default: false }),
      (a) => {
        const now = Date.now();
        const { report, config } = withUsers(a, (_users, config, store) => ({
          report: showReport(store, config, a.name as string, now),
          config,
        }));
        io.out(a.json ? JSON.stringify(showJson(report, userJson)) : showText(report, config));
      },
    )
    .demandCommand(1, "name a users command: create, list, set, show, deactivate, activate, delete, rotate");
}
