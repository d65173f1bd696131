import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import type { Argv, CommandModule } from "yargs";
import {
  type Credentials,
  credentialsPath,
  readCredentials,
  removeCredentials,
  writeCredentials,
} from "../client/credentials.js";
import {
  askMe,
  type FrontDoor,
  formatProxyUrl,
  type Me,
  type MeResult,
  parseProxyUrl,
  readCa,
} from "../client/front-door.js";
import { CliError, EXIT, type Input, type Io } from "./io.js";

// login, logout, whoami and connect run on a developer's machine where only the CLI is
// installed: they read no server config and open no database.

/** A token longer than this on stdin is not a token. */
const TOKEN_STDIN_LIMIT = 4096;

interface LoginArgs {
  url: string;
  extra: string[] | undefined;
  "token-stdin": boolean;
  ca: string | undefined;
}

/** `ollama-proxy login URL [--token-stdin] [--ca PATH]` */
export function loginCommand(io: Io): CommandModule<object, LoginArgs> {
  return {
    command: "login <url> [extra..]",
    describe: "check a token against a proxy and remember both, for whoami and connect",
    builder: (y: Argv) =>
      y
        .positional("url", {
          type: "string",
          demandOption: true,
          describe: "the proxy, e.g. https://gpu.example.com or gpu.example.com:11434",
        })
        .positional("extra", { type: "string", array: true, hidden: true })
        .option("token-stdin", {
          type: "boolean",
          default: false,
          describe: "read the token from stdin instead of asking for it",
        })
        .option("ca", {
          type: "string",
          describe: "PEM file of a private CA that signed the proxy's certificate (remembered)",
        }) as unknown as Argv<LoginArgs>,
    handler: (a) => login(a, io),
  };
}

async function login(args: LoginArgs, io: Io): Promise<void> {
  if (args.extra !== undefined && args.extra.length > 0) {
    // Never echo it: it may be a token.
    throw new CliError(
      "login takes no token on the command line (it would stay in your shell history and show in `ps`): " +
        "leave it out and paste it when asked, or pipe it in with --token-stdin",
      EXIT.usage,
    );
  }
  const url = parseProxyUrl(args.url);
  if (typeof url === "string") throw new CliError(url, EXIT.usage);
  const where = formatProxyUrl(url);
  let ca: { path: string; pem: string } | null = null;
  if (args.ca !== undefined) {
    if (url.protocol !== "https:")
      throw new CliError(`--ca applies to https:// URLs only; ${where} is plain HTTP`, EXIT.usage);
    const path = resolve(args.ca);
    const read = readCa(path);
    if ("error" in read) throw new CliError(read.error, EXIT.usage);
    ca = { path, pem: read.pem };
  }
  const input = io.stdin ?? process.stdin;
  if (args["token-stdin"] && input.isTTY) {
    // Typed there, it would show on the screen.
    throw new CliError(
      "--token-stdin reads the token from a pipe; on a terminal, leave it out to be asked without echo",
      EXIT.usage,
    );
  }
  const token = args["token-stdin"]
    ? checkToken(await readAll(input), "on stdin")
    : checkToken(await askHidden(input, io, where), "typed");

  const result = await askMe({ url, token, ca: ca?.pem ?? null });
  if (result.kind !== "ok") throw new CliError(meFailure(result, where, "login"));

  const path = credentialsPath();
  const credentials: Credentials = { url: where, token, ...(ca ? { ca: ca.path } : {}) };
  try {
    writeCredentials(path, credentials);
  } catch (err) {
    throw new CliError(`cannot save the credentials in ${path}: ${(err as Error).message}`);
  }
  io.out(`Logged in to ${where} as ${describeMe(result.me)}.`);
  io.out(`Saved in ${path} (readable by you only).`);
  io.out("For the ollama command and other tools that cannot send a token: ollama-proxy connect");
}

/** Reads all of a pipe, up to a limit. */
export async function readAll(input: Input): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const b = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += b.length;
    if (size > TOKEN_STDIN_LIMIT)
      throw new CliError(
        `stdin holds more than ${TOKEN_STDIN_LIMIT} bytes: --token-stdin expects the token alone`,
        EXIT.usage,
      );
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Asks for the token on the terminal without echoing it: readline in raw mode writing to a
 * sink, so that line editing (backspace, Ctrl-U) works and nothing typed or pasted shows.
 */
function askHidden(input: Input, io: Io, where: string): Promise<string> {
  if (!input.isTTY) {
    throw new CliError(
      "no terminal to ask for the token on: pipe it in with --token-stdin, e.g. " +
        "`ollama-proxy login URL --token-stdin < token.txt`",
      EXIT.usage,
    );
  }
  io.err(`API token for ${where} (input is hidden; paste it and press Enter):`);
  const sink = new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });
  const rl = createInterface({ input, output: sink, terminal: true, historySize: 0 });
  return new Promise((resolve, reject) => {
    let answered = false;
    rl.once("line", (line) => {
      answered = true;
      rl.close();
      resolve(line);
    });
    rl.once("SIGINT", () => {
      rl.close();
    });
    rl.once("close", () => {
      if (!answered) reject(new CliError("login cancelled: no token given", 130));
    });
  });
}

/** The token as typed or piped, without the line end; refuses anything that cannot be one. */
export function checkToken(text: string, how: string): string {
  const token = text.trim();
  if (token === "") throw new CliError(`no token ${how}: nothing was stored`, EXIT.usage);
  if (!/^[\x21-\x7e]+$/.test(token))
    throw new CliError(
      `the token ${how} is not one word of printable characters (it has spaces, line breaks or control characters): nothing was stored`,
      EXIT.usage,
    );
  return token;
}

/** `ollama-proxy logout` */
export function logoutCommand(io: Io): CommandModule<object, object> {
  return {
    command: "logout",
    describe: "forget the stored token (it stays valid on the proxy until rotated or deactivated)",
    builder: (y: Argv) => y,
    handler: () => {
      const path = credentialsPath();
      if (removeCredentials(path)) {
        io.out(`Logged out: removed ${path}.`);
        io.out(
          "The token itself still works until an admin rotates or deactivates it (`ollama-proxy users rotate NAME`).",
        );
      } else {
        io.out(`Not logged in (no ${path}).`);
      }
    },
  };
}

interface WhoamiArgs {
  json: boolean;
}

/** `ollama-proxy whoami [--json]` */
export function whoamiCommand(io: Io): CommandModule<object, WhoamiArgs> {
  return {
    command: "whoami",
    describe: "ask the proxy you logged in to who you are and which models you may use",
    builder: (y: Argv) =>
      y.option("json", { type: "boolean", default: false }) as unknown as Argv<WhoamiArgs>,
    handler: (a) => whoami(a, io),
  };
}

async function whoami(args: WhoamiArgs, io: Io): Promise<void> {
  const { door } = loadFrontDoor();
  const where = formatProxyUrl(door.url);
  const result = await askMe(door);
  if (result.kind !== "ok") throw new CliError(meFailure(result, where, "stored"));
  const me = result.me;
  if (args.json) {
    io.out(JSON.stringify({ url: where, ...me }));
    return;
  }
  io.out(`${describeMe(me)} at ${where}`);
  io.out(`policy:  ${me.policy ?? "none"}`);
  io.out(`expires: ${me.expires_at ?? "never"}`);
  io.out(`models:  ${me.models.length === 0 ? "none" : `${me.models.length}: ${me.models.join(", ")}`}`);
}

/** `alice (user)` */
export function describeMe(me: Me): string {
  return `${me.name} (${me.role})`;
}

/**
 * The proxy and token `login` stored, with its CA read, or a CLI error that says what to run:
 * not logged in, a file others can read, a file that is not ours, a CA file gone.
 */
export function loadFrontDoor(): { door: FrontDoor; path: string } {
  const stored = readCredentials(credentialsPath());
  const { path } = stored;
  switch (stored.kind) {
    case "missing":
      throw new CliError(`not logged in: run \`ollama-proxy login URL\` first (there is no ${path})`);
    case "exposed": {
      const mode = stored.mode.toString(8).padStart(4, "0");
      throw new CliError(
        `${path} can be read by others (mode ${mode}), so its token is no longer a secret: ` +
          `run \`chmod 600 ${path}\` (and ask for a new token if others may have read it)`,
      );
    }
    case "invalid":
      throw new CliError(`${path} is not usable (${stored.reason}): run \`ollama-proxy login URL\` again`);
  }
  const { credentials } = stored;
  const url = parseProxyUrl(credentials.url);
  if (typeof url === "string")
    throw new CliError(`${path} is not usable (${url}): run \`ollama-proxy login URL\` again`);
  let ca: string | null = null;
  if (credentials.ca !== undefined) {
    const read = readCa(credentials.ca);
    if ("error" in read)
      throw new CliError(
        `${read.error} (remembered by login --ca): run \`ollama-proxy login ${credentials.url} --ca PATH\` again`,
      );
    ca = read.pem;
  }
  return { door: { url, token: credentials.token, ca }, path };
}

/** Why /proxy/me gave no answer, and what to do; `token` says whether it was just typed or stored. */
export function meFailure(
  result: Exclude<MeResult, { kind: "ok" }>,
  where: string,
  token: "login" | "stored",
) {
  switch (result.kind) {
    case "refused":
      return token === "login"
        ? `${where} refused the token (${result.status}): ${result.reason}. Check that you pasted all of it; nothing was stored`
        : `${where} refused the stored token (${result.status}): ${result.reason}. It was revoked, rotated or has expired: ` +
            `get a new one and run \`ollama-proxy login ${where}\` again`;
    case "not-proxy":
      return (
        `${where} is not an ollama-proxy: ${result.detail} (a plain Ollama answers 404 on /proxy/me). ` +
        `Give the proxy's address, not an Ollama server's${token === "login" ? "; nothing was stored" : ""}`
      );
    case "failed":
      return `${where} failed (${result.status}): ${result.reason}`;
    case "unreachable":
      return `${result.reason}${token === "login" ? "; nothing was stored" : ""}`;
  }
}
