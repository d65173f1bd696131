import { once } from "node:events";
import {
  type ClientRequest,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { pipeline } from "node:stream";
import { describeNetworkError, type FrontDoor, frontDoorAgent, requestFrontDoor } from "./front-door.js";

/** Where the local door listens. */
export interface ListenAddress {
  host: string;
  port: number;
}

export interface LocalDoorOptions {
  listen: ListenAddress;
  upstream: FrontDoor;
  /** One line for the person running `connect` (a failure, a refused token). */
  log(line: string): void;
  /**
   * The proxy refused the token (401): returns a newer token to use from now on (the user
   * logged in again meanwhile), or null.
   */
  onUnauthorized?(): string | null;
}

/** A running local door. */
export interface LocalDoor {
  /** `host:port` as OLLAMA_HOST takes it (`[::1]:11434` for IPv6). */
  readonly hostPort: string;
  readonly port: number;
  /** Stops listening, ends every connection (aborting what it carried upstream), frees the agent. */
  close(): Promise<void>;
}

/** A connection attempt to the proxy that is still not connected after this long has failed. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Headers that describe one connection, not the message: never forwarded (RFC 9110 §7.6.1),
 * in either direction. `host` is the door's own address; the agent sets the proxy's.
 */
const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];
const DROP_REQUEST = new Set([...HOP_BY_HOP, "host", "authorization", "expect"]);
const DROP_RESPONSE = new Set(HOP_BY_HOP);

/** Header names listed in a Connection header are hop-by-hop too (RFC 9110 §7.6.1). */
function namedInConnection(headers: IncomingHttpHeaders): Set<string> {
  return new Set(
    (headers.connection ?? "")
      .split(",")
      .map((n) => n.trim().toLowerCase())
      .filter((n) => n !== ""),
  );
}

/**
 * The headers a client's request goes to the proxy with: the client's end-to-end headers,
 * its own Authorization replaced by the stored token. A body of unknown length stays chunked
 * (Node would not frame a DELETE body on its own).
 */
export function doorRequestHeaders(headers: IncomingHttpHeaders, token: string): OutgoingHttpHeaders {
  const named = namedInConnection(headers);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (!DROP_REQUEST.has(name) && !named.has(name)) out[name] = headers[name];
  }
  if (headers["content-length"] === undefined && headers["transfer-encoding"] !== undefined)
    out["transfer-encoding"] = "chunked";
  out.authorization = `Bearer ${token}`;
  return out;
}

/** The headers of the proxy's answer as the client gets them: everything but hop-by-hop. */
export function doorResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = namedInConnection(headers);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (!DROP_RESPONSE.has(name) && !named.has(name)) out[name] = headers[name];
  }
  return out;
}

/**
 * Starts the local door for header-less clients: each request goes to the proxy with the
 * stored token, over one keep-alive agent, both bodies streamed as they come (nothing is
 * buffered or re-encoded). A client that leaves aborts its request to the proxy, which
 * aborts the generation. Rejects with Node's listen error (EADDRINUSE…) when it cannot listen.
 */
export async function startLocalDoor(opts: LocalDoorOptions): Promise<LocalDoor> {
  const agent = frontDoorAgent(opts.upstream);
  let token = opts.upstream.token;
  const sockets = new Set<Socket>();

  const server = createServer({ noDelay: true }, (req, res) => {
    forward(req, res);
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });

  function forward(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url ?? "/";
    if (!path.startsWith("/")) {
      answerError(res, path, 400, `connect forwards origin-form requests only, not "${path.slice(0, 100)}"`);
      return;
    }
    let upstream: ClientRequest;
    try {
      upstream = requestFrontDoor(opts.upstream, agent, {
        method: req.method ?? "GET",
        path,
        headers: doorRequestHeaders(req.headers, token),
      });
    } catch (err) {
      // Node refuses a malformed header value before anything is sent.
      answerError(res, path, 400, `connect cannot forward this request: ${(err as Error).message}`);
      return;
    }
    // The client leaving (before or during the answer) must reach the proxy: Ollama stops a
    // generation only when its connection closes.
    res.once("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    guardConnect(upstream);
    upstream.on("error", (err) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (res.destroyed) return;
      const reason = describeNetworkError(err, opts.upstream.url);
      opts.log(`${req.method} ${path}: ${reason}`);
      const timedOut = (err as NodeJS.ErrnoException).code === "ETIMEDOUT";
      answerError(res, path, timedOut ? 504 : 502, `ollama-proxy connect: ${reason}`);
    });
    upstream.on("response", (answer: IncomingMessage) => {
      if (answer.statusCode === 401) unauthorized();
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, doorResponseHeaders(answer.headers));
      // Each chunk goes out as it arrives; either side failing tears down the other.
      pipeline(answer, res, () => {});
    });
    // A client that vanishes mid-upload is handled by the close handler above.
    req.on("error", () => {});
    // Not stream.pipeline: on an upstream error it would destroy the client's request, and its
    // socket with it, before the 502 could be written. The error handler above ends both.
    req.pipe(upstream);
  }

  let hinted = false;
  function unauthorized(): void {
    const fresh = opts.onUnauthorized?.() ?? null;
    if (fresh !== null && fresh !== token) {
      token = fresh;
      hinted = false;
      opts.log("the proxy refused the token; using the new one from `ollama-proxy login` from now on");
      return;
    }
    if (hinted) return;
    hinted = true;
    opts.log(
      "the proxy refused the token (401): it was revoked, rotated or has expired. " +
        "Get a new one from the proxy's admin and run `ollama-proxy login` again; connect picks it up by itself.",
    );
  }

  function guardConnect(upstream: ClientRequest): void {
    upstream.once("socket", (socket: Socket) => {
      if (!socket.connecting) return;
      const timer = setTimeout(
        () =>
          upstream.destroy(
            Object.assign(new Error(`not connected within ${CONNECT_TIMEOUT_MS / 1000} s`), {
              code: "ETIMEDOUT",
            }),
          ),
        CONNECT_TIMEOUT_MS,
      );
      socket.once("connect", () => clearTimeout(timer));
      socket.once("close", () => clearTimeout(timer));
    });
  }

  server.listen({ host: opts.listen.host, port: opts.listen.port });
  // once() rejects with the listen error (EADDRINUSE, EACCES, EADDRNOTAVAIL).
  await once(server, "listening");
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    hostPort: `${host}:${address.port}`,
    port: address.port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
      agent.destroy();
    },
  };
}

/** An answer of the door's own (the proxy could not be asked), in the dialect the path implies. */
function answerError(res: ServerResponse, path: string, status: number, message: string): void {
  const bare = path.split("?")[0] ?? path;
  const body =
    bare === "/v1/messages"
      ? { type: "error", error: { type: "api_error", message } }
      : bare.startsWith("/v1/")
        ? { error: { message, type: "api_error", code: null } }
        : { error: message };
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}
