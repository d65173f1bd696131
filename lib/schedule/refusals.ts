/** The scheduler's 503s, each with Retry-After and a message that says what happened and what to do. */
import { ProxyError } from "../errors.js";

/** Retry-After for a saturated fleet: about as long as the oldest waiting request has waited, 1–60 s. */
function retryAfter(oldestWaitMs: number): Record<string, string> {
  const seconds = Math.min(60, Math.max(1, Math.ceil(oldestWaitMs / 1000)));
  return { "retry-after": String(seconds) };
}

/** More than scheduler.max_queue would wait. */
export function queueFull(waiting: number, oldestWaitMs: number): ProxyError {
  return new ProxyError(
    "queue_full",
    `every server for this model is busy and ${waiting} requests are already waiting (scheduler.max_queue); retry later`,
    { headers: retryAfter(oldestWaitMs) },
  );
}

/** Waited scheduler.max_wait_seconds without a slot. */
export function waitTimeout(maxWaitSeconds: number): ProxyError {
  return new ProxyError(
    "queue_timeout",
    `no server had a free slot for this request within ${maxWaitSeconds} s (scheduler.max_wait_seconds); retry later`,
    { headers: retryAfter(maxWaitSeconds * 1000) },
  );
}

/** Every candidate went down, or was disabled by a reload, while the request waited (or before it could be retried). */
export function serversGone(model: string, why: string): ProxyError {
  return new ProxyError("no_server", `no server can take model "${model}" any more: ${why}`, {
    headers: { "retry-after": "5" },
  });
}

/** No candidate is usable at all (the same answer the forwarder gives). */
export function noServer(): ProxyError {
  return new ProxyError("no_server", "no Ollama server is available", { headers: { "retry-after": "5" } });
}

/** The proxy is stopping: nothing waiting will be served. */
export function shuttingDown(): ProxyError {
  return new ProxyError("shutting_down", "the proxy is shutting down; retry on another instance or later", {
    headers: { "retry-after": "5" },
  });
}
