import { isIPv4, isIPv6 } from "node:net";
import type { Argv, CommandModule } from "yargs";
import { credentialsPath, readCredentials } from "../client/credentials.js";
import { askMe, formatProxyUrl } from "../client/front-door.js";
import { type ListenAddress, type LocalDoor, startLocalDoor } from "../client/local-door.js";
import { CliError, EXIT, type Io } from "./io.js";
import { describeMe, loadFrontDoor, meFailure } from "./login.js";

/** Where `connect` listens unless told otherwise: Ollama's own address, which tools default to. */
export const DEFAULT_LISTEN = "127.0.0.1:11434";

interface ConnectArgs {
  listen: string;
  "allow-remote": boolean;
}

/** `ollama-proxy connect [--listen 127.0.0.1:11434] [--allow-remote]` */
export function connectCommand(io: Io): CommandModule<object, ConnectArgs> {
  return {
    command: "connect",
    describe: "a local door for tools that cannot send a token (the ollama command): adds yours",
    builder: (y: Argv) =>
      y
        .option("listen", {
          type: "string",
          default: DEFAULT_LISTEN,
          describe: "HOST:PORT to listen on (loopback only, unless --allow-remote)",
        })
        .option("allow-remote", {
          type: "boolean",
          default: false,
          describe: "allow a non-loopback --listen: anyone who reaches it uses your token",
        }) as unknown as Argv<ConnectArgs>,
    handler: (a) => connect(a, io, untilSignalled()).then(() => undefined),
  };
}

/**
 * Runs the local door until `stop` resolves (SIGINT or SIGTERM from the CLI): checks the stored
 * token, listens, says what to set, and forwards until stopped. Resolves to the exit code.
 */
export async function connect(
  args: ConnectArgs,
  io: Io,
  stop: { promise: Promise<unknown>; dispose(): void },
): Promise<number> {
  try {
    const listen = parseListen(args.listen);
    const remote = !isLoopback(listen.host);
    if (remote && !args["allow-remote"]) {
      throw new CliError(
        `--listen ${args.listen} is not a loopback address: anyone who can reach it would use the proxy with your token. ` +
          "Listen on 127.0.0.1 (or ::1), or add --allow-remote if that is what you want",
        EXIT.usage,
      );
    }
    const { door: upstream } = loadFrontDoor();
    const where = formatProxyUrl(upstream.url);
    const door = await listenOrFail(listen, {
      listen,
      upstream,
      log: (line) => io.err(`connect: ${line}`),
      onUnauthorized: () => newerToken(where),
    });
    try {
      const me = await askMe(upstream);
      let who = "";
      if (me.kind === "ok") who = ` as ${describeMe(me.me)}`;
      else if (me.kind === "unreachable") io.err(`warning: ${me.reason}; forwarding anyway`);
      else throw new CliError(meFailure(me, where, "stored"));
      if (remote)
        io.err(
          `warning: listening on ${door.hostPort}, beyond this machine (--allow-remote): anyone who can reach it ` +
            `uses the proxy${who} without a token of their own`,
        );
      io.out(`ollama-proxy connect: ${door.hostPort} → ${where}${who}`);
      io.out("For the ollama command and tools that take only an Ollama address:");
      io.out(`  export OLLAMA_HOST=${door.hostPort}`);
      io.out(`(tools that want a URL: http://${door.hostPort}). Ctrl-C stops it.`);
      await stop.promise;
    } finally {
      await door.close();
    }
    return EXIT.ok;
  } finally {
    stop.dispose();
  }
}

/** Resolves on the first SIGINT or SIGTERM; handlers are removed by dispose(). */
export function untilSignalled(): { promise: Promise<NodeJS.Signals>; dispose(): void } {
  const handlers: [NodeJS.Signals, () => void][] = [];
  const promise = new Promise<NodeJS.Signals>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      const handler = () => resolve(signal);
      handlers.push([signal, handler]);
      process.once(signal, handler);
    }
  });
  return {
    promise,
    dispose: () => {
      for (const [signal, handler] of handlers) process.off(signal, handler);
    },
  };
}

async function listenOrFail(
  listen: ListenAddress,
  options: Parameters<typeof startLocalDoor>[0],
): Promise<LocalDoor> {
  try {
    return await startLocalDoor(options);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const at = formatHostPort(listen);
    if (code === "EADDRINUSE") {
      const ollama = listen.port === 11434 ? " (most likely by a local Ollama, which listens there)" : "";
      const next = formatHostPort({
        host: listen.host,
        port: listen.port === 65535 ? 11435 : listen.port + 1,
      });
      throw new CliError(
        `${at} is already in use${ollama}: pick another port with \`ollama-proxy connect --listen ${next}\` ` +
          `and set OLLAMA_HOST=${next}`,
      );
    }
    if (code === "EACCES")
      throw new CliError(
        `not allowed to listen on ${at} (ports below 1024 need root): pick a port above 1024`,
      );
    if (code === "EADDRNOTAVAIL")
      throw new CliError(`${listen.host} is not an address of this machine: use 127.0.0.1`);
    if (code === "ENOTFOUND" || code === "EAI_AGAIN")
      throw new CliError(`cannot resolve ${listen.host}: use an IP address such as 127.0.0.1`);
    throw err;
  }
}

/** A newer token for the same proxy, when the user ran `login` again while connect runs. */
function newerToken(where: string): string | null {
  const stored = readCredentials(credentialsPath());
  return stored.kind === "ok" && stored.credentials.url === where ? stored.credentials.token : null;
}

/** `HOST:PORT`, `[V6]:PORT` or a bare `PORT` (on 127.0.0.1). */
export function parseListen(text: string): ListenAddress {
  const bad = () =>
    new CliError(`--listen "${text}" is not HOST:PORT (e.g. ${DEFAULT_LISTEN} or [::1]:11434)`, EXIT.usage);
  const m = /^(?:\[([^\]]+)\]:|([^:[\]]+):)?(\d{1,5})$/.exec(text.trim());
  if (m === null) throw bad();
  const host = m[1] ?? m[2] ?? "127.0.0.1";
  const port = Number(m[3]);
  if (port > 65535) throw bad();
  if (m[1] !== undefined && !isIPv6(host)) throw bad();
  return { host, port };
}

/** Only this machine can reach it: 127.0.0.0/8, ::1 (also IPv4-mapped), and `localhost`. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "localhost" || h === "::1") return true;
  const v4 = h.startsWith("::ffff:") ? h.slice(7) : h;
  return isIPv4(v4) && v4.startsWith("127.");
}

function formatHostPort(a: ListenAddress): string {
  return `${a.host.includes(":") ? `[${a.host}]` : a.host}:${a.port}`;
}
