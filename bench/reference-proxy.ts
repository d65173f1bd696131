/**
 * The reference proxy: node:http + http-proxy-3 over one keep-alive agent and nothing else
 * (no auth, no body peek, no routing, no logging) — the floor of ollama-proxy's own design.
 * It uses the same agent settings and server options as ollama-proxy, so that the difference
 * between the two is what ollama-proxy does per request.
 *
 * Usage: node .build/bench/reference-proxy.js UPSTREAM_URL
 * Prints `listening on http://127.0.0.1:PORT` on stderr.
 */
import { Agent, createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { createProxyServer } from "http-proxy-3";

const upstream = process.argv[2];
if (upstream === undefined) {
  process.stderr.write("usage: reference-proxy UPSTREAM_URL\n");
  process.exit(2);
}
const target = new URL(upstream);
const agent = new Agent({
  keepAlive: true,
  maxSockets: Number.POSITIVE_INFINITY,
  maxFreeSockets: 256,
  scheduling: "lifo",
});
const proxy = createProxyServer({ xfwd: false, changeOrigin: true });

// http-proxy-3 rethrows when nobody listens; a benchmark target must answer, not crash.
const onError = (err: Error, _req: IncomingMessage, res: ServerResponse | Socket) => {
  if (!("writeHead" in res)) return void res.destroy();
  if (res.headersSent) return void res.destroy();
  const body = JSON.stringify({ error: err.message });
  res.writeHead(502, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
};

const server = createServer(
  { headersTimeout: 10_000, requestTimeout: 300_000, keepAliveTimeout: 5_000, noDelay: true },
  (req, res) => proxy.web(req, res, { target, agent }, onError),
);
// The default backlog (511), as ollama-proxy and nginx use.
server.listen({ host: "127.0.0.1", port: 0 }, () => {
  const { port } = server.address() as AddressInfo;
  process.stderr.write(`listening on http://127.0.0.1:${port}\n`);
});
process.on("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
  agent.destroy();
});
