import type { Argv } from "yargs";
import { parseDuration } from "../duration.js";
import { type User, UserError } from "../store/users.js";
import { type ConfigArgs, configOptions, loadOrFail, openOrFail } from "./common.js";
import { CliError, EXIT, type Io } from "./io.js";
import { formatTable, formatTime } from "./table.js";

function userJson(u: User) {
  return {
    name: u.name,
    role: u.role,
    active: u.active,
    token_prefix: u.tokenPrefix,
    expires_at: u.expiresAt === null ? null : new Date(u.expiresAt).toISOString(),
    created_at: new Date(u.createdAt).toISOString(),
    last_used_at: u.lastUsedAt === null ? null : new Date(u.lastUsedAt).toISOString(),
  };
}

/** Runs `fn` against the configured database; user errors become CLI errors. */
function withUsers<T>(args: ConfigArgs, fn: (users: ReturnType<typeof openOrFail>["users"]) => T): T {
  const { config } = loadOrFail(args);
  const store = openOrFail(config.database);
  try {
    return fn(store.users);
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
          .option("json", { type: "boolean", default: false }),
      (a) => {
        // Arguments are checked before the database is opened (or created) for them.
        const expiresAt = expiry(a["expires-in"]);
        const { user, token } = withUsers(a, (users) =>
          users.create(a.name as string, { role: a.admin ? "admin" : "user", expiresAt }),
        );
        printToken(io, a.json, "Created", user, token);
      },
    )
    .command(
      "list",
      "list users (never their tokens)",
      (y) => y.options(configOptions).option("json", { type: "boolean", default: false }),
      (a) => {
        const list = withUsers(a, (users) => users.list());
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
            ["NAME", "ROLE", "ACTIVE", "TOKEN", "EXPIRES", "LAST USED", "CREATED"],
            list.map((u) => [
              u.name,
              u.role,
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
    .demandCommand(1, "name a users command: create, list, deactivate, activate, delete, rotate");
}
