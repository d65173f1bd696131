import { once } from "node:events";
import { createServer as createHttpServer, type RequestListener, type Server } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { Config, TlsConfig } from "../config/types.js";
import { ProxyError } from "../errors.js";
import { rawErrorResponse } from "./respond.js";
import { readTlsPair, type TlsPair } from "./tls.js";

/** The listener cannot serve HTTPS: a file is missing, unreadable, not PEM, or not one pair. One line. */
export class TlsFilesError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`cannot serve HTTPS: ${problems.join("; ")}`);
    this.name = "TlsFilesError";
  }
}

/** What a reload did to the certificate served. */
export type TlsReload =
  /** Plain HTTP, or the file turns TLS off: that waits for a restart. */
  | { kind: "not-served" }
  | { kind: "unchanged" }
  /** New connections get the new pair; running ones keep theirs. */
  | { kind: "applied"; pair: TlsPair }
  /** The files do not load: the running pair stays. */
  | { kind: "failed"; problems: readonly string[] };

/** Parser refusals are logged at most this often. */
const PARSER_LOG_MS = 10_000;

/** The proxy's socket: node:http, or node:https when the config has `tls`, with the same options and handler. */
export interface Listener {
  readonly server: Server;
  readonly scheme: "http" | "https";
  /** Listens; resolves with the port bound and the URL a local client reaches it at. */
  listen(port: number, bind: string): Promise<{ port: number; url: string }>;
  /** Re-reads `tls`'s files (SIGHUP): a renewed certificate is served to new connections. */
  reloadTls(tls: TlsConfig | null): TlsReload;
  /** Requests Node's parser refused before they were requests, by the status answered (for /metrics). */
  parserRefusals(): Readonly<Record<string, number>>;
}

/** Creates the server for `config` (HTTPS when it has `tls`); throws TlsFilesError when the files do not load. */
export function createListener(
  config: Config,
  handler: RequestListener,
  log: { warn(obj: object, msg: string): void },
): Listener {
  const options = {
    headersTimeout: config.limits.headersTimeoutMs,
    requestTimeout: config.limits.requestTimeoutMs,
    maxHeaderSize: config.limits.maxHeaderBytes,
    keepAliveTimeout: 5_000,
    // How often Node enforces headersTimeout/requestTimeout (its default, 30 s, lets a slowloris linger).
    connectionsCheckingInterval: 1_000,
    noDelay: true,
  };
  let served: TlsPair | null = null;
  let secure: HttpsServer | null = null;
  if (config.tls !== null) {
    const read = readTlsPair(config.tls);
    if (read.kind === "failed") throw new TlsFilesError(read.problems);
    served = read.pair;
    secure = createHttpsServer(
      {
        ...options,
        cert: served.cert,
        key: served.key,
        // A client that connects and never finishes its handshake is let go as soon as one
        // that never sends its headers would be (Node's default is 120 s).
        handshakeTimeout: config.limits.headersTimeoutMs,
      },
      handler,
    );
  }
  const server: Server = secure ?? createHttpServer(options, handler);
  // Node's parser refuses oversized headers (431), slow ones (408) and bad syntax (400) before
  // there is a request; the client still gets a readable answer, and nothing crashes.
  const refused: Record<string, number> = {};
  let lastLogged = 0;
  let sinceLogged = 0;
  const counted = new WeakSet<Socket>();
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    const refusal = parserRefusal(err);
    // The parser may report one connection twice (its refusal, then what came after it): it is answered once.
    if (counted.has(socket)) return;
    counted.add(socket);
    refused[refusal.status] = (refused[refusal.status] ?? 0) + 1;
    // Logged at most once per PARSER_LOG_MS with how many came meanwhile: a flood of garbage
    // must not become a flood of log lines.
    sinceLogged++;
    const now = Date.now();
    if (now - lastLogged >= PARSER_LOG_MS) {
      log.warn(
        { status: refusal.status, error: err.code ?? err.message, count: sinceLogged },
        "requests refused by the HTTP parser",
      );
      lastLogged = now;
      sinceLogged = 0;
    }
    if (!socket.writable) return socket.destroy();
    socket.end(rawErrorResponse(refusal));
  });
  const scheme = secure === null ? "http" : "https";

  return {
    server,
    scheme,
    async listen(port, bind) {
      server.listen(port, bind);
      await once(server, "listening");
      const bound = (server.address() as AddressInfo).port;
      const host = bind === "0.0.0.0" || bind === "::" ? "127.0.0.1" : bind;
      return { port: bound, url: `${scheme}://${host.includes(":") ? `[${host}]` : host}:${bound}` };
    },
    parserRefusals: () => refused,
    reloadTls(tls) {
      if (secure === null || served === null || tls === null) return { kind: "not-served" };
      const read = readTlsPair(tls);
      if (read.kind === "failed") return read;
      const next = read.pair;
      if (next.cert === served.cert && next.key === served.key && next.ca === served.ca)
        return { kind: "unchanged" };
      // Only connections accepted from now on use it: a running stream keeps its session.
      secure.setSecureContext({ cert: next.cert, key: next.key });
      served = next;
      return { kind: "applied", pair: next };
    },
  };
}

/** What Node's parser refused, as the error the client reads. */
function parserRefusal(err: NodeJS.ErrnoException): ProxyError {
  if (err.code === "HPE_HEADER_OVERFLOW")
    return new ProxyError("headers_too_large", "request headers too large");
  if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") return new ProxyError("request_timeout", "request timeout");
  return new ProxyError("bad_request", "bad request");
}
