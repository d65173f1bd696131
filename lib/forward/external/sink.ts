import { once } from "node:events";
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { ExternalHostConfig } from "../../config/types.js";
import type { RequestContext } from "../../context.js";
import type { ProxyError } from "../../errors.js";

/** Response headers of a passed-through answer that mean something to the client; the rest (cookies, org ids) stay. */
const PASS_HEADERS = /^(content-type|retry-after|retry-after-ms|x-ratelimit-[a-z-]+)$/;

/**
 * The client's side of an external answer: headers sent at the first byte (so that an error
 * before any content can still be a proper error status), writes that wait for a slow client,
 * and byte and timing accounting for the request log.
 */
export class ClientSink {
  readonly ctx: RequestContext;
  private readonly res: ServerResponse;
  private readonly host: ExternalHostConfig;
  private errorText: ((e: ProxyError) => string | null) | null = null;

  constructor(res: ServerResponse, ctx: RequestContext, host: ExternalHostConfig) {
    this.res = res;
    this.ctx = ctx;
    this.host = host;
  }

  started(): boolean {
    return this.res.headersSent;
  }

  /** Sends the response head once. */
  head(status: number, contentType: string, upstream?: IncomingHttpHeaders): void {
    if (this.res.headersSent) return;
    const headers: OutgoingHttpHeaders = {};
    if (upstream !== undefined) {
      for (const [name, value] of Object.entries(upstream))
        if (PASS_HEADERS.test(name)) headers[name] = value;
    }
    headers["content-type"] = contentType;
    if (contentType.includes("event-stream")) headers["cache-control"] = "no-cache";
    const overhead = this.ctx.tSent === null ? 0 : this.ctx.tSent - this.ctx.t0;
    headers["x-ollama-proxy-overhead-ms"] = overhead.toFixed(2);
    headers["x-ollama-proxy-server"] = this.host.key;
    this.ctx.status = status;
    this.res.writeHead(status, headers);
  }

  /** Writes, and waits while the client's socket is full (backpressure reaches the provider through the paused read). */
  async write(data: string | Buffer): Promise<void> {
    if (this.res.destroyed) throw Object.assign(new Error("client gone"), { code: "ECLIENTGONE" });
    this.ctx.tFirstChunk ??= performance.now();
    this.ctx.bytesOut += typeof data === "string" ? Buffer.byteLength(data) : data.length;
    if (!this.res.write(data)) {
      await Promise.race([once(this.res, "drain"), once(this.res, "close")]);
    }
  }

  end(): void {
    this.ctx.tEnd = performance.now();
    this.res.end();
  }

  /** How a failure after the head is told in-band (an NDJSON error line, an SSE error event); null = cut the connection. */
  onFail(text: (e: ProxyError) => string | null): void {
    this.errorText = text;
  }

  /** The provider failed after the head went out: one in-band error, then the end. */
  fail(e: ProxyError): void {
    this.ctx.tEnd = performance.now();
    const text = this.errorText?.(e) ?? null;
    if (text === null) this.res.destroy();
    else {
      this.ctx.bytesOut += Buffer.byteLength(text);
      this.res.end(text);
    }
  }
}
