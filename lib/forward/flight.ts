import type { ClientRequest, IncomingMessage, ServerResponse } from "node:http";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { Transform } from "node:stream";
import type { LimitsConfig } from "../config/types.js";
import type { RequestContext, ResponseObserver } from "../context.js";
import { ProxyError } from "../errors.js";
import { bodyTooLarge, type PeekedBody } from "../http/body.js";
import { responseHeaders } from "../http/headers.js";
import { errorFrame, type Framing, failRequest, framingOf, whenDrained } from "../http/respond.js";
import type { Logger } from "../log/app-log.js";
import type { Fleet } from "../routing/fleet.js";
import type { ServerState } from "../routing/server-state.js";
import { nextCandidate } from "../routing/table.js";
import { isGrant } from "../schedule/scheduler.js";
import type { Grant, Scheduler } from "../schedule/types.js";
import {
  type Deadlines,
  describeFailure,
  mayRetry,
  midStreamError,
  upstreamError,
  watchDeadlines,
} from "./upstream.js";

/** A request for an Ollama server, with the candidates it may go to. */
export interface OllamaRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly ctx: RequestContext;
  /** What peek read; null for a body streamed as it is (blob uploads). */
  readonly body: PeekedBody | null;
  readonly tiers: readonly (readonly ServerState[])[];
  /** False for calls that change state: never sent again once they may have reached a server. */
  readonly idempotent: boolean;
  /** The slot the scheduler gave (its server goes first); null when the request is not scheduled. */
  readonly grant: Grant | null;
  readonly observer: ResponseObserver | null;
  /** Called once the chosen server's response head is in (model management refreshes its model list). */
  readonly onResponse: ((status: number, server: ServerState) => void) | null;
}

/**
 * Where one request is: trying a server (no response byte has reached the client, so it may
 * still go elsewhere), streaming a server's answer, or over.
 */
type Phase =
  /** Waiting in the scheduler again, for another server after a failure (nothing reached the client). */
  | { readonly kind: "queued" }
  | { readonly kind: "trying"; readonly server: ServerState; deadlines: Deadlines | null }
  | { readonly kind: "streaming"; readonly server: ServerState; readonly framing: Framing }
  | { readonly kind: "over" };

export interface FlightEnv {
  readonly scheduler: Scheduler | null;
  readonly fleet: Fleet;
  readonly limits: () => LimitsConfig;
  readonly log: Logger;
  readonly onFailover: (from: string, to: string) => void;
}

/** One request on its way through the forwarder: which servers it tried and where it is now. */
export class Flight {
  private readonly r: OllamaRequest;
  private readonly env: FlightEnv;
  private phase: Phase = { kind: "over" };
  private tried: Set<ServerState> | null = null;
  private upstream: ClientRequest | null = null;
  private grant: Grant | null;

  constructor(r: OllamaRequest, env: FlightEnv) {
    this.r = r;
    this.env = env;
    this.grant = r.grant;
  }

  start(): void {
    const first = this.grant?.server ?? nextCandidate(this.r.tiers, null);
    if (first === null) {
      this.fail(
        new ProxyError("no_server", "no Ollama server is available", { headers: { "retry-after": "5" } }),
      );
      return;
    }
    // A client that leaves ends the flight, and its upstream request with it.
    this.r.res.once("close", () => {
      if (this.phase.kind !== "over" && !this.r.res.writableFinished) this.clientLeft();
    });
    this.attempt(first);
  }

  /** Moves to the next phase, giving back the server slot of the one before. */
  private enter(next: Phase): void {
    if ("server" in this.phase) this.phase.server.inFlight--;
    if ("server" in next) next.server.inFlight++;
    this.phase = next;
  }

  /**
   * One request to `server`, made with node:http rather than http-proxy-3: its events are
   * shared by every request and name only the client's request, so each would have to find
   * its flight through a table keyed by request, and such a table keeps every request's objects
   * alive through the young-generation collections (measured: ~1.4 MB promoted per collection
   * under load, GC time per request ×3). The request's own events need no lookup.
   */
  private attempt(server: ServerState): void {
    const { req, ctx } = this.r;
    ctx.attempts++;
    ctx.server = server.key;
    // Host names the backend, not the proxy: a backend behind a name-based virtual host needs it.
    req.headers.host = server.target.host;
    const upstream = (server.target.protocol === "https:" ? httpsRequest : httpRequest)({
      hostname: server.hostname,
      port: server.target.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
      agent: server.agent,
    });
    this.upstream = upstream;
    ctx.tSent = performance.now();
    this.enter({ kind: "trying", server, deadlines: watchDeadlines(upstream, this.env.limits()) });
    upstream.on("response", (proxyRes: IncomingMessage) => this.response(upstream, proxyRes));
    upstream.on("error", (err: Error) => this.failed(upstream, err));
    this.sendBody(upstream);
  }

  /**
   * The upstream request's body. A body kept whole is written from memory (so it can go to
   * another server); otherwise the client's stream flows through (peek put back what it
   * read), counted — past `limits.max_body_mb` a chunked upload is refused — and checked as it
   * passes (a second model key after the first megabyte). A refused body never reaches its
   * end upstream: Ollama reads a body whole before it acts on it.
   */
  private sendBody(upstream: ClientRequest): void {
    const { body, req } = this.r;
    if (body === null) {
      req.pipe(upstream);
      return;
    }
    if (body.kind === "whole") {
      const last = body.chunks.length - 1;
      for (let i = 0; i < last; i++) upstream.write(body.chunks[i]!);
      // The usual one-chunk body goes out with the head, in one write.
      upstream.end(last >= 0 ? body.chunks[last] : undefined);
      return;
    }
    const max = body.declared === null ? this.env.limits().maxBodyBytes : Number.POSITIVE_INFINITY;
    let seen = 0;
    const refuse = (err: ProxyError, done: () => void) => {
      upstream.destroy();
      if (this.phase.kind === "trying") this.fail(err);
      done();
    };
    const pass = new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        seen += chunk.length;
        this.r.ctx.bytesIn = seen;
        if (seen > max) return refuse(bodyTooLarge(max), done);
        const refused = body.check.push(chunk);
        if (refused !== null) return refuse(new ProxyError("bad_request", refused), done);
        done(null, chunk);
      },
      flush: (done) => {
        const refused = body.check.end();
        if (refused !== null) return refuse(new ProxyError("bad_request", refused), done);
        done();
      },
    });
    req.pipe(pass).pipe(upstream);
  }

  private response(upstream: ClientRequest, proxyRes: IncomingMessage): void {
    const phase = this.phase;
    if (phase.kind !== "trying" || upstream !== this.upstream) {
      proxyRes.resume();
      return;
    }
    const { res, ctx } = this.r;
    const server = phase.server;
    const status = proxyRes.statusCode ?? 502;
    // Ollama answers 503 when its queue is full: another server may take the request (which
    // this one read: only inference is sent again).
    if (status === 503 && this.r.idempotent && this.canFailover(server)) {
      proxyRes.resume();
      this.failover("answered 503 (queue full)");
      return;
    }
    ctx.tHeaders = performance.now();
    ctx.status = status;
    phase.deadlines?.responded();
    this.enter({ kind: "streaming", server, framing: framingOf(proxyRes.headers["content-type"] ?? "") });
    this.r.onResponse?.(status, server);
    const overhead = ctx.tSent === null ? 0 : ctx.tSent - ctx.t0;
    res.writeHead(status, responseHeaders(proxyRes.headers, ctx.id, server.key, overhead));
    proxyRes.on("data", (chunk: Buffer) => this.relay(proxyRes, chunk));
    proxyRes.on("end", () => this.ended());
    proxyRes.on("error", (err: Error) => this.failed(upstream, err));
    proxyRes.on("aborted", () =>
      this.failed(upstream, Object.assign(new Error("connection lost mid-response"), { code: "ECONNRESET" })),
    );
  }

  private relay(proxyRes: IncomingMessage, chunk: Buffer): void {
    const { res, ctx, observer } = this.r;
    if (ctx.tFirstChunk === null) ctx.tFirstChunk = performance.now();
    ctx.bytesOut += chunk.length;
    observer?.chunk(chunk);
    if (!res.write(chunk)) {
      proxyRes.pause();
      whenDrained(res, this.env.limits().sendTimeoutMs, (drained) => drained && proxyRes.resume());
    }
  }

  private ended(): void {
    if (this.phase.kind === "over") return;
    this.finish(null);
    this.r.res.end();
  }

  /** Any failure of the upstream request or its response (one of an earlier attempt is old news). */
  private failed(upstream: ClientRequest, err: NodeJS.ErrnoException): void {
    const phase = this.phase;
    // Queued for another server: nothing of this request is on the wire any more.
    if (phase.kind === "over" || phase.kind === "queued" || upstream !== this.upstream) return;
    const { res } = this.r;
    if (res.destroyed || res.writableEnded) {
      this.clientLeft();
      return;
    }
    if (phase.kind === "streaming") {
      this.endEarly(phase, err);
      return;
    }
    if (mayRetry(err, this.r.idempotent)) {
      // Refused or cut before it could answer: another server may take it.
      if (this.failover(describeFailure(err))) return;
    } else if (phase.deadlines?.fired()?.deadline !== "first-byte") {
      // A server that took the request and did not answer in time may be working on it: it is
      // neither marked down nor sent the request again.
      this.env.fleet.markDown(phase.server, describeFailure(err));
    }
    this.fail(upstreamError(err, phase.server.key));
  }

  /** True while the request can still go to another server: nothing sent to the client, body replayable, a candidate left. */
  private canFailover(server: ServerState): boolean {
    const { res } = this.r;
    // (req is over once its body was read; only the response tells whether the client is still there)
    if (res.destroyed || res.writableEnded || this.r.body?.kind !== "whole") return false;
    this.tried ??= new Set();
    this.tried.add(server);
    return nextCandidate(this.r.tiers, this.tried) !== null;
  }

  /** Marks the server down and tries the next candidate if nothing has reached the client yet; true when it did. */
  private failover(reason: string): boolean {
    if (this.phase.kind !== "trying") return false;
    const server = this.phase.server;
    this.env.fleet.markDown(server, reason);
    if (!this.canFailover(server)) return false;
    if (this.grant !== null && this.env.scheduler !== null)
      return this.reschedule(this.grant, server, reason);
    const next = nextCandidate(this.r.tiers, this.tried)!;
    this.env.log.info({ requestId: this.r.ctx.id, from: server.key, to: next.key, reason }, "failover");
    this.env.onFailover(server.key, next.key);
    this.attempt(next);
    return true;
  }

  /**
   * Failover under the scheduler: the slot goes back and another is asked for among the
   * servers not tried, keeping the request's place in the queue; it may wait for one.
   */
  private reschedule(grant: Grant, from: ServerState, reason: string): boolean {
    const admission = this.env.scheduler!.retry(grant, this.tried!);
    this.grant = null;
    if (admission instanceof ProxyError) return false;
    const go = (g: Grant) => {
      this.grant = g;
      this.env.log.info({ requestId: this.r.ctx.id, from: from.key, to: g.server.key, reason }, "failover");
      this.env.onFailover(from.key, g.server.key);
      this.attempt(g.server);
    };
    if (isGrant(admission)) {
      go(admission);
      return true;
    }
    this.enter({ kind: "queued" });
    const { res } = this.r;
    const cancel = () => admission.cancel();
    res.once("close", cancel);
    admission.promise.then((outcome) => {
      res.off("close", cancel);
      if (outcome instanceof ProxyError) this.fail(outcome);
      else go(outcome);
    });
    return true;
  }

  /**
   * The backend failed after the client got the response head. NDJSON and SSE streams end
   * with one in-band error in their own framing (what Ollama itself does mid-stream); anything
   * else cannot be repaired and the connection is cut. A lost connection marks the server
   * down; a stream that merely went silent (idle timeout) does not.
   */
  private endEarly(phase: Extract<Phase, { kind: "streaming" }>, err: NodeJS.ErrnoException): void {
    const { res, ctx } = this.r;
    const e = midStreamError(err, phase.server.key);
    ctx.errorCode = e.code;
    ctx.errorMessage = e.message;
    this.finish(e.message);
    if (e.code !== "upstream_idle_timeout") this.env.fleet.markDown(phase.server, describeFailure(err));
    this.env.log.warn(
      { requestId: ctx.id, server: phase.server.key, reason: e.message },
      "stream ended early",
    );
    const frame = errorFrame(phase.framing, e.message, e.code, ctx.dialect);
    if (frame === null) res.destroy();
    else res.end(frame);
  }

  private clientLeft(): void {
    this.r.ctx.clientAborted = !this.r.res.writableFinished;
    this.upstream?.destroy();
    this.finish(null);
  }

  private fail(err: ProxyError): void {
    this.finish(err.message);
    failRequest(this.r.res, this.r.ctx, err);
  }

  private finish(error: string | null): void {
    if (this.phase.kind === "over") return;
    this.enter({ kind: "over" });
    this.grant?.release();
    this.grant = null;
    this.r.ctx.tEnd = performance.now();
    this.r.observer?.end(error);
  }
}
