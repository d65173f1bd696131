import type { ClientRequest, IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { type Readable, Transform } from "node:stream";
import { createProxyServer } from "http-proxy-3";
import type { LimitsConfig } from "../config/types.js";
import { failRequest, type RequestContext } from "../context.js";
import { ProxyError, upstreamError } from "../errors.js";
import type { Logger } from "../log/app-log.js";
import { bodyTooLarge, type PeekedBody } from "../peek.js";
import type { Fleet } from "../routing/fleet.js";
import type { ServerState } from "../routing/server-state.js";
import { nextCandidate } from "../routing/table.js";
import { responseHeaders } from "./headers.js";

/** Sees every response chunk as it passes (the usage tap); never holds on to it. */
export interface ResponseObserver {
  chunk(data: Buffer): void;
  /** The response is over; `error` is set when it ended early. */
  end(error: string | null): void;
}

/** One request on its way through the forwarder: which servers it tried and where it is now. */
interface Flight {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly ctx: RequestContext;
  readonly body: PeekedBody | null;
  readonly tiers: readonly (readonly ServerState[])[];
  readonly observer: ResponseObserver | null;
  readonly onResponse: ((status: number, server: ServerState) => void) | null;
  tried: Set<ServerState> | null;
  server: ServerState | null;
  proxyReq: ClientRequest | null;
  /** The attempt holds one of its server's in-flight slots. */
  counted: boolean;
  /** Response headers went to the client: from here on nothing is retried. */
  responded: boolean;
  /** The attempt's socket is connected (or was reused): a timeout now means the backend is slow, not gone. */
  connected: boolean;
  streamKind: "ndjson" | "sse" | "other";
  done: boolean;
}

const FLIGHT = Symbol("ollama-proxy.flight");
type Tagged<T> = T & { [FLIGHT]?: Flight };

export interface ForwardRequest {
  req: IncomingMessage;
  res: ServerResponse;
  ctx: RequestContext;
  body: PeekedBody | null;
  tiers: readonly (readonly ServerState[])[];
  observer?: ResponseObserver | null;
  /** Called once the chosen server's response headers are in (model management refreshes its model list). */
  onResponse?: ((status: number, server: ServerState) => void) | null;
}

export interface Forwarder {
  /** Sends the request to the first candidate, failing over while that is still invisible to the client. */
  forward(request: ForwardRequest): void;
  close(): void;
}

/** Socket errors that mean the backend never got to work on the request: safe to send elsewhere. */
const RETRYABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "ENOTFOUND",
  "EPIPE",
  "ECONNECT_TIMEOUT",
]);

/**
 * The forward stage: http-proxy-3 over each backend's keep-alive agent, with the response
 * handled here (selfHandleResponse) so that both directions are torn down together, the
 * usage tap sees each chunk, and a stream cut short ends with an in-band error line.
 */
export function createForwarder(fleet: Fleet, limits: () => LimitsConfig, log: Logger): Forwarder {
  const proxy = createProxyServer({ selfHandleResponse: true, changeOrigin: true, xfwd: false });

  const release = (f: Flight) => {
    if (f.counted && f.server !== null) {
      f.server.inFlight--;
      f.counted = false;
    }
  };

  const finish = (f: Flight, error: string | null) => {
    if (f.done) return;
    f.done = true;
    release(f);
    f.ctx.tEnd = performance.now();
    f.observer?.end(error);
  };

  const attempt = (f: Flight, server: ServerState) => {
    f.server = server;
    f.proxyReq = null;
    f.connected = false;
    f.counted = true;
    server.inFlight++;
    f.ctx.attempts++;
    f.ctx.server = server.key;
    proxy.web(f.req, f.res, { target: server.target, agent: server.agent, buffer: bodySource(f) });
  };

  /**
   * What the upstream request's body is read from. A body kept whole is replayed from memory
   * (so it can go to another server); otherwise the client's stream flows through (the peek
   * put back what it read). A body of unknown length is counted as it flows: past
   * limits.max_body_mb the upstream request is abandoned and the client gets 413.
   */
  const bodySource = (f: Flight): Readable | undefined => {
    const body = f.body;
    if (body === null) return undefined;
    if (body.complete) return replay(body.chunks);
    if (f.req.headers["content-length"] !== undefined) return undefined;
    const max = limits().maxBodyBytes;
    let seen = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        seen += chunk.length;
        f.ctx.bytesIn = seen;
        if (seen <= max) return done(null, chunk);
        f.proxyReq?.destroy();
        if (!f.responded) fail(f, bodyTooLarge(max));
        done();
      },
    });
    return f.req.pipe(counter);
  };

  /** Tries the next candidate if nothing has reached the client yet; true when it did. */
  const failover = (f: Flight, reason: string): boolean => {
    const server = f.server!;
    fleet.markDown(server, reason);
    release(f);
    // (req is destroyed as soon as its body has been read; only the response tells whether the client is still there)
    const clientGone = f.res.destroyed || f.res.writableEnded;
    if (f.responded || clientGone || !f.body?.complete) return false;
    f.tried ??= new Set();
    f.tried.add(server);
    const next = nextCandidate(f.tiers, f.tried);
    if (next === null) return false;
    log.info({ requestId: f.ctx.id, from: server.key, to: next.key, reason }, "failover");
    attempt(f, next);
    return true;
  };

  const fail = (f: Flight, err: ProxyError) => {
    finish(f, err.message);
    failRequest(f.res, f.ctx, err);
  };

  proxy.on(
    "proxyReq",
    (proxyReq: Tagged<ClientRequest>, req: Tagged<IncomingMessage>, _res, _opts, socket: Socket) => {
      const f = req[FLIGHT];
      if (f === undefined) return;
      f.proxyReq = proxyReq;
      proxyReq[FLIGHT] = f;
      f.ctx.tSent = performance.now();
      const l = limits();
      if (socket.connecting) {
        proxyReq.setTimeout(l.upstreamConnectTimeoutMs);
        socket.once("connect", () => {
          f.connected = true;
          proxyReq.setTimeout(l.upstreamFirstByteTimeoutMs);
        });
      } else {
        f.connected = true;
        proxyReq.setTimeout(l.upstreamFirstByteTimeoutMs);
      }
      proxyReq.on("timeout", onUpstreamTimeout);
    },
  );

  proxy.on(
    "proxyRes",
    (proxyRes: Tagged<IncomingMessage>, req: Tagged<IncomingMessage>, res: ServerResponse) => {
      const f = req[FLIGHT];
      if (f === undefined || f.done) {
        proxyRes.resume();
        return;
      }
      const server = f.server!;
      const status = proxyRes.statusCode ?? 502;
      // Ollama answers 503 when its queue is full: another server may take the request.
      if (
        status === 503 &&
        !f.responded &&
        f.body?.complete &&
        nextCandidate(f.tiers, new Set([...(f.tried ?? []), server]))
      ) {
        proxyRes.resume();
        if (failover(f, "answered 503 (queue full)")) return;
      }
      f.ctx.tHeaders = performance.now();
      f.ctx.status = status;
      f.responded = true;
      f.proxyReq?.setTimeout(limits().upstreamIdleTimeoutMs);
      const type = proxyRes.headers["content-type"] ?? "";
      f.streamKind = type.includes("ndjson") ? "ndjson" : type.includes("event-stream") ? "sse" : "other";
      f.onResponse?.(status, server);
      const overhead = f.ctx.tSent === null ? 0 : f.ctx.tSent - f.ctx.t0;
      res.writeHead(status, responseHeaders(proxyRes.headers, f.ctx.id, server.key, overhead));
      proxyRes[FLIGHT] = f;
      proxyRes.on("data", onUpstreamData);
      proxyRes.on("end", onUpstreamEnd);
      proxyRes.on("error", onUpstreamError);
      proxyRes.on("aborted", onUpstreamAborted);
    },
  );

  const onProxyError = (err: NodeJS.ErrnoException, req: Tagged<IncomingMessage>) => {
    const f = req[FLIGHT];
    if (f === undefined || f.done) return;
    if (f.res.destroyed || f.res.writableEnded) {
      f.ctx.clientAborted = !f.res.writableFinished;
      finish(f, null);
      return;
    }
    const server = f.server!;
    if (f.responded) {
      endEarly(f, err);
      return;
    }
    const code = err.code ?? "";
    if (RETRYABLE.has(code)) {
      if (failover(f, code)) return;
    } else if (code === "ETIMEDOUT") {
      // The backend took the request and did not answer in time: it may be working on it, so it is not replayed.
      fail(
        f,
        new ProxyError(
          "upstream_timeout",
          `${server.key} sent no response within ${limits().upstreamFirstByteTimeoutMs / 1000} s`,
          { cause: err },
        ),
      );
      return;
    } else {
      fleet.markDown(server, code || err.message);
    }
    fail(f, upstreamError(err, server.key));
  };
  proxy.on("error", onProxyError);
  // http-proxy-3 reports a reset of a client that already left as "econnreset", not as an error.
  proxy.on("econnreset", (_err: Error, req: Tagged<IncomingMessage>) => {
    const f = req[FLIGHT];
    if (f === undefined || f.done) return;
    f.ctx.clientAborted = true;
    finish(f, null);
  });

  function onUpstreamTimeout(this: Tagged<ClientRequest>) {
    const f = this[FLIGHT];
    if (f === undefined) return;
    if (f.responded) {
      const idle = limits().upstreamIdleTimeoutMs / 1000;
      this.destroy(Object.assign(new Error(`no data for ${idle} s`), { code: "EIDLE_TIMEOUT" }));
      return;
    }
    const code = f.connected ? "ETIMEDOUT" : "ECONNECT_TIMEOUT";
    this.destroy(
      Object.assign(new Error(code === "ETIMEDOUT" ? "first byte timeout" : "connect timeout"), { code }),
    );
  }

  function onUpstreamData(this: Tagged<IncomingMessage>, chunk: Buffer) {
    const f = this[FLIGHT]!;
    if (f.ctx.tFirstChunk === null) f.ctx.tFirstChunk = performance.now();
    f.ctx.bytesOut += chunk.length;
    f.observer?.chunk(chunk);
    if (!f.res.write(chunk)) {
      this.pause();
      f.res.once("drain", () => this.resume());
    }
  }

  function onUpstreamEnd(this: Tagged<IncomingMessage>) {
    const f = this[FLIGHT]!;
    if (f.done) return;
    finish(f, null);
    f.res.end();
  }

  function onUpstreamError(this: Tagged<IncomingMessage>, err: NodeJS.ErrnoException) {
    const f = this[FLIGHT]!;
    if (f.res.destroyed) {
      f.ctx.clientAborted = true;
      finish(f, null);
      return;
    }
    endEarly(f, err);
  }

  function onUpstreamAborted(this: Tagged<IncomingMessage>) {
    const f = this[FLIGHT]!;
    if (f.done) return;
    if (f.res.destroyed) {
      f.ctx.clientAborted = true;
      finish(f, null);
      return;
    }
    endEarly(f, Object.assign(new Error("connection lost mid-response"), { code: "ECONNRESET" }));
  }

  /**
   * The backend failed after the client got headers. NDJSON and SSE streams end with one
   * in-band error in their own framing (what Ollama itself does for errors mid-stream);
   * anything else cannot be repaired and the connection is cut. A lost connection marks the
   * server down; a stream that merely went silent (idle timeout) does not.
   */
  const endEarly = (f: Flight, err: NodeJS.ErrnoException) => {
    if (f.done) return;
    const why = `${f.server?.key}: ${reason(err)}`;
    const message = `upstream server stopped mid-response (${why})`;
    f.ctx.errorCode = err.code === "EIDLE_TIMEOUT" ? "upstream_idle_timeout" : "upstream_stream_error";
    f.ctx.errorMessage = message;
    finish(f, message);
    if (f.server !== null && err.code !== "EIDLE_TIMEOUT") fleet.markDown(f.server, why);
    log.warn({ requestId: f.ctx.id, server: f.server?.key, reason: why }, "stream ended early");
    if (f.streamKind === "ndjson") {
      f.res.end(`${JSON.stringify({ error: message })}\n`);
    } else if (f.streamKind === "sse") {
      f.res.end(
        `data: ${JSON.stringify({ error: { message, type: "server_error", code: "upstream_stream_error" } })}\n\n`,
      );
    } else {
      f.res.destroy();
    }
  };

  return {
    forward(r) {
      const first = nextCandidate(r.tiers, null);
      const f: Flight = {
        req: r.req,
        res: r.res,
        ctx: r.ctx,
        body: r.body,
        tiers: r.tiers,
        observer: r.observer ?? null,
        onResponse: r.onResponse ?? null,
        tried: null,
        server: null,
        proxyReq: null,
        counted: false,
        responded: false,
        connected: false,
        streamKind: "other",
        done: false,
      };
      (r.req as Tagged<IncomingMessage>)[FLIGHT] = f;
      if (first === null) {
        fail(
          f,
          new ProxyError("no_server", "no Ollama server is available", { headers: { "retry-after": "5" } }),
        );
        return;
      }
      // A client that leaves ends the flight; http-proxy-3 aborts the upstream request itself.
      r.res.once("close", () => {
        if (!f.done && !r.res.writableFinished) {
          f.ctx.clientAborted = true;
          f.proxyReq?.destroy();
          finish(f, null);
        }
      });
      attempt(f, first);
    },
    close() {
      proxy.close();
    },
  };
}

/** A socket error in words: our own timeouts by their message, the rest by their code. */
function reason(err: NodeJS.ErrnoException): string {
  return err.code === "EIDLE_TIMEOUT" ? err.message : (err.code ?? err.message);
}

/**
 * A body kept in memory, replayed into the upstream request. http-proxy-3 only ever calls
 * `buffer.pipe(proxyReq)`, so this is all a replay needs: writing the chunks and ending (one
 * `end(chunk)` for the usual one-chunk body, which Node sends with the headers) costs far less
 * than a Readable per request.
 */
function replay(chunks: readonly Buffer[]): Readable {
  const source = {
    pipe<T extends NodeJS.WritableStream>(dest: T): T {
      const last = chunks.length - 1;
      for (let i = 0; i < last; i++) dest.write(chunks[i]!);
      if (last >= 0) dest.end(chunks[last]!);
      else dest.end();
      return dest;
    },
  };
  return source as unknown as Readable;
}
