/**
 * The benchmark's upstream: a lean stand-in for Ollama, run as its own process
 * (`node .build/bench/fake-ollama.js`). Every answer is a pre-built buffer so that the fake costs
 * as little as possible and the same for every target.
 *
 * POST /api/generate and /api/chat read the whole body (as Ollama does) and then answer:
 * - `"stream":false` in the body → one JSON object with Ollama's final-chunk fields;
 * - otherwise NDJSON: `x-bench-chunks` content lines (default 50), `x-bench-interval-ms` apart
 *   (default 0: one event-loop turn apart, so that every chunk is its own write), then the final
 *   `done` line. The knobs are headers so that wrk, nginx and both proxies pass them untouched.
 * GET /api/tags, /api/ps, /api/version answer what the proxy's pollers expect.
 *
 * Prints `listening on http://127.0.0.1:PORT` on stderr once it accepts connections.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { BENCH_MODEL } from "./common.js";

const CREATED = "2026-01-01T00:00:00.000000Z";

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

const TAGS = json({
  models: [
    {
      name: BENCH_MODEL,
      model: BENCH_MODEL,
      modified_at: CREATED,
      size: 1_000_000_000,
      digest: "0".repeat(64),
      details: { format: "gguf", family: "llama", parameter_size: "1B", quantization_level: "Q4_0" },
    },
  ],
});
const PS = json({
  models: [
    {
      name: BENCH_MODEL,
      model: BENCH_MODEL,
      size: 1_000_000_000,
      digest: "0".repeat(64),
      expires_at: "2099-01-01T00:00:00Z",
      size_vram: 1_000_000_000,
    },
  ],
});
const VERSION = json({ version: "0.12.0" });
const FINAL_FIELDS = {
  done: true,
  done_reason: "stop",
  total_duration: 512_000_000,
  load_duration: 2_000_000,
  prompt_eval_count: 26,
  prompt_eval_duration: 40_000_000,
  eval_count: 50,
  eval_duration: 450_000_000,
};
/** A typical short non-streamed answer (~330 bytes, like Ollama's for a one-line reply). */
const SINGLE = json({
  model: BENCH_MODEL,
  created_at: CREATED,
  response: "Hello! How can I help you today? Ask me anything about the benchmark.",
  ...FINAL_FIELDS,
});
const LINE = Buffer.from(
  `${JSON.stringify({ model: BENCH_MODEL, created_at: CREATED, response: " token", done: false })}\n`,
);
const FINAL_LINE = Buffer.from(
  `${JSON.stringify({ model: BENCH_MODEL, created_at: CREATED, response: "", ...FINAL_FIELDS })}\n`,
);
const NDJSON_HEADERS = { "content-type": "application/x-ndjson" };
const STREAM_FALSE = [Buffer.from('"stream":false'), Buffer.from('"stream": false')];

function send(res: ServerResponse, status: number, body: Buffer): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": body.length });
  res.end(body);
}

function headerInt(req: IncomingMessage, name: string, fallback: number): number {
  const v = req.headers[name];
  if (typeof v !== "string") return fallback;
  const n = Number.parseInt(v, 10);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

/** Writes `chunks` lines `intervalMs` apart, then the final line; stops if the client leaves. */
function stream(res: ServerResponse, chunks: number, intervalMs: number): void {
  res.writeHead(200, NDJSON_HEADERS);
  let sent = 0;
  const next = () => {
    if (res.destroyed) return;
    if (sent === chunks) {
      res.end(FINAL_LINE);
      return;
    }
    sent++;
    res.write(LINE);
    if (intervalMs === 0) setImmediate(next);
    else setTimeout(next, intervalMs);
  };
  next();
}

/**
 * Barriers (`x-bench-barrier: ID:N`): answers held until N requests with the same ID have
 * arrived, then released together — thousands of streams that run at once, however long the
 * client took to open them. A barrier short of its count opens after a minute anyway.
 */
const barriers = new Map<string, { need: number; waiting: (() => void)[]; timer: NodeJS.Timeout }>();
const released = new Set<string>();

function atBarrier(spec: string, go: () => void): void {
  const colon = spec.lastIndexOf(":");
  const id = spec.slice(0, colon);
  if (released.has(id)) {
    go();
    return;
  }
  let b = barriers.get(id);
  if (b === undefined) {
    const timer = setTimeout(() => release(id), 60_000);
    b = { need: Number(spec.slice(colon + 1)), waiting: [], timer };
    barriers.set(id, b);
  }
  b.waiting.push(go);
  if (b.waiting.length >= b.need) release(id);
}

function release(id: string): void {
  const b = barriers.get(id);
  if (b === undefined) return;
  clearTimeout(b.timer);
  barriers.delete(id);
  released.add(id);
  for (const go of b.waiting) go();
}

function generate(req: IncomingMessage, res: ServerResponse) {
  // Only the first chunk is looked at: the bench's bodies put "stream" before the prompt.
  let nonStreamed: boolean | null = null;
  req.on("data", (chunk: Buffer) => {
    if (nonStreamed === null) nonStreamed = STREAM_FALSE.some((s) => chunk.includes(s));
  });
  req.on("end", () => {
    if (nonStreamed === true) return send(res, 200, SINGLE);
    const go = () =>
      stream(res, headerInt(req, "x-bench-chunks", 50), headerInt(req, "x-bench-interval-ms", 0));
    const barrier = req.headers["x-bench-barrier"];
    if (typeof barrier === "string") atBarrier(barrier, go);
    else go();
  });
}

function handle(req: IncomingMessage, res: ServerResponse) {
  const url = req.url ?? "/";
  if (req.method === "POST" && (url === "/api/generate" || url === "/api/chat")) return generate(req, res);
  req.resume();
  if (url === "/api/tags") return send(res, 200, TAGS);
  if (url === "/api/ps") return send(res, 200, PS);
  if (url === "/api/version") return send(res, 200, VERSION);
  if (url === "/") {
    res.writeHead(200, { "content-type": "text/plain", "content-length": 17 });
    res.end("Ollama is running");
    return;
  }
  send(res, 404, json({ error: `${url} not found` }));
}

const server = createServer(
  {
    // The proxies keep their upstream sockets for the whole run; a short timeout here would make
    // them race a closing socket, which is not what is being measured.
    keepAliveTimeout: 600_000,
    requestTimeout: 0,
    headersTimeout: 60_000,
    noDelay: true,
  },
  handle,
);
server.listen({ host: "127.0.0.1", port: Number(process.argv[2] ?? 0), backlog: 4096 }, () => {
  const { port } = server.address() as AddressInfo;
  process.stderr.write(`listening on http://127.0.0.1:${port}\n`);
});
process.on("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
});
