import type { ClientRequest } from "node:http";
import type { Socket } from "node:net";
import type { LimitsConfig } from "../config/types.js";
import { ProxyError } from "../errors.js";

/**
 * The one owner of an upstream request's deadlines (Ollama servers, fan-out, external hosts):
 * connecting, then the first byte of the answer (a model may load for minutes before it), then
 * — once the response head is in — silence between chunks. Never a whole-request timer:
 * generations stream for minutes.
 */
export type Deadline = "connect" | "first-byte" | "idle";

/** The proxy gave up on an upstream because a deadline passed. */
export class UpstreamTimeout extends Error {
  readonly code: string;
  readonly deadline: Deadline;
  readonly ms: number;
  constructor(deadline: Deadline, ms: number) {
    const s = ms / 1000;
    super(
      deadline === "connect"
        ? "connect timeout"
        : deadline === "first-byte"
          ? `no response within ${s} s`
          : `no data for ${s} s`,
    );
    this.name = "UpstreamTimeout";
    this.deadline = deadline;
    this.ms = ms;
    this.code =
      deadline === "connect" ? "ECONNECT_TIMEOUT" : deadline === "first-byte" ? "ETIMEDOUT" : "EIDLE_TIMEOUT";
  }
}

/** The deadlines of one upstream request. */
export interface Deadlines {
  /** The response head is in: from now on the deadline is one of silence. */
  responded(): void;
  /** True once the socket is connected (or was reused): a timeout now means the upstream is slow, not gone. */
  connected(): boolean;
  /** The deadline that ended the request, if one did (the response stream itself only says "aborted"). */
  fired(): UpstreamTimeout | null;
}

/**
 * Arms the deadlines on `req`, from the moment it gets its socket (a reused keep-alive socket
 * is connected already; a TLS socket counts as connected after its handshake).
 */
export function watchDeadlines(req: ClientRequest, limits: LimitsConfig): Deadlines {
  let phase: Deadline = "connect";
  let ms = limits.upstreamConnectTimeoutMs;
  let fired: UpstreamTimeout | null = null;
  const arm = (next: Deadline, timeoutMs: number) => {
    phase = next;
    ms = timeoutMs;
    req.setTimeout(timeoutMs);
  };
  const connected = () => {
    if (phase === "connect") arm("first-byte", limits.upstreamFirstByteTimeoutMs);
  };
  const onSocket = (s: Socket) => {
    if (!s.connecting) return connected();
    arm("connect", limits.upstreamConnectTimeoutMs);
    s.once("encrypted" in s ? "secureConnect" : "connect", connected);
  };
  req.once("socket", onSocket);
  req.on("timeout", () => {
    fired = new UpstreamTimeout(phase, ms);
    req.destroy(fired);
  });
  return {
    responded: () => arm("idle", limits.upstreamIdleTimeoutMs),
    connected: () => phase !== "connect",
    fired: () => fired,
  };
}

/** Socket errors that mean the request never reached the upstream: there was no connection. */
const NOT_CONNECTED = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "ENOTFOUND",
  "ECONNECT_TIMEOUT",
]);
/** The connection broke under the request: the upstream may have read it, but it did not answer. */
const BROKEN = new Set(["ECONNRESET", "EPIPE"]);

/**
 * True when a request that failed this way, before any response, may go to another server.
 * A request that changes state (pull, push, create, copy, delete) is sent again only when it
 * cannot have reached the first server, as nginx and Envoy do by default; inference may be
 * repeated whenever the server did not answer.
 */
export function mayRetry(err: NodeJS.ErrnoException, idempotent: boolean): boolean {
  const code = err.code ?? "";
  return NOT_CONNECTED.has(code) || (idempotent && BROKEN.has(code));
}

const BAD_RESPONSE = new Set([
  "HPE_INVALID_CONSTANT",
  "HPE_INVALID_VERSION",
  "HPE_INVALID_STATUS",
  "HPE_INVALID_HEADER_TOKEN",
  "HPE_UNEXPECTED_CONTENT_LENGTH",
  "HPE_INVALID_CHUNK_SIZE",
]);

/** An upstream failure in a few words, for messages and log lines: our deadlines by what passed, the rest by code. */
export function describeFailure(err: NodeJS.ErrnoException): string {
  if (err instanceof UpstreamTimeout) return err.message;
  if (err.code === "ECONNRESET" || err.message === "aborted") return "connection lost";
  return err.code ?? err.message;
}

/**
 * A failure before any response byte reached the client, as the error the client gets:
 * unreachable (502), an answer that is not HTTP (502), or no answer in time (504).
 */
export function upstreamError(err: NodeJS.ErrnoException, upstream: string): ProxyError {
  if (err instanceof UpstreamTimeout && err.deadline !== "connect") {
    return new ProxyError("upstream_timeout", `${upstream} sent ${err.message}`, { cause: err });
  }
  if (BAD_RESPONSE.has(err.code ?? "")) {
    return new ProxyError("upstream_bad_response", `${upstream} sent an invalid HTTP response`, {
      cause: err,
    });
  }
  return new ProxyError("upstream_unreachable", `${upstream} is unreachable (${err.code ?? err.message})`, {
    cause: err,
  });
}

/** A failure after the response head went out: ends the stream with this (in-band) error. */
export function midStreamError(err: NodeJS.ErrnoException, upstream: string): ProxyError {
  const idle = err instanceof UpstreamTimeout && err.deadline === "idle";
  return new ProxyError(
    idle ? "upstream_idle_timeout" : "upstream_stream_error",
    `${upstream} stopped mid-response (${describeFailure(err)})`,
    { cause: err },
  );
}
