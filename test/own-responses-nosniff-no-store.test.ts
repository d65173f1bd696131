import assert from "node:assert/strict";
import { connect } from "node:net";
import { test } from "node:test";
import { everyEndpoint } from "../lib/stages/endpoints.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";

// Every answer the proxy writes itself (not a backend's) is never sniffed and never cached:
// they are errors or live fleet state. The cases come from the endpoint table, so that a new
// endpoint cannot escape the rule; the proxy runs with its real telemetry (metrics on).

const OTHER = { GET: "DELETE", HEAD: "DELETE", POST: "GET", DELETE: "POST" } as Record<string, string>;

test("every answer the proxy writes itself, for every endpoint, carries nosniff and no-store", async (t) => {
  const backend = await startFakeOllama({ name: "gpu" });
  t.after(() => backend.close());
  // Many refusals without a token below: the failed-auth limit must not turn them into 429s.
  const p = await startLoggedProxy(t, [backend], { extra: { limits: { auth_failures_per_minute: 1000 } } });
  const user = p.auth;
  const admin = { authorization: `Bearer ${p.adminToken}` };

  const cases: { path: string; init: RequestInit; status: number }[] = [
    { path: "/api/nope", init: { headers: user }, status: 404 },
    { path: "/api/nope", init: {}, status: 401 },
  ];
  for (const [path, { methods, endpoint }] of everyEndpoint()) {
    const method = methods[0]!;
    const wrong = methods.includes(OTHER[method]!) ? "PATCH" : OTHER[method]!;
    switch (endpoint.kind) {
      case "local": {
        const headers = endpoint.public ? {} : user;
        cases.push({ path, init: { method, headers }, status: 200 });
        cases.push({ path, init: { method: wrong, headers }, status: 405 });
        if (!endpoint.public) cases.push({ path, init: { method }, status: 401 });
        break;
      }
      case "routed":
        cases.push({ path, init: { method, headers: admin, body: "{" }, status: 400 });
        cases.push({ path, init: { method, headers: admin, body: "{}" }, status: 400 });
        cases.push({ path, init: { method: wrong, headers: admin }, status: 405 });
        cases.push({ path, init: { method, body: "{}" }, status: 401 });
        if (endpoint.admin) cases.push({ path, init: { method, headers: user, body: "{}" }, status: 403 });
        break;
      case "raw":
        cases.push({ path, init: { method, headers: user }, status: 403 }); // admin-only or cloud
        cases.push({ path, init: { method }, status: 401 });
        break;
    }
  }
  for (const { path, init, status } of cases) {
    const res = await fetch(`${p.url}${path}`, init);
    await res.arrayBuffer();
    const what = `${init.method ?? "GET"} ${path} → ${status}`;
    assert.equal(res.status, status, what);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff", what);
    assert.equal(res.headers.get("cache-control"), "no-store", what);
    assert.ok(res.headers.get("x-request-id"), `${what} has a request id`);
  }

  // Node's own parser refusals (here: headers over the limit) are written by the proxy too.
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect(p.server.port, "127.0.0.1");
    let text = "";
    socket.on("data", (c) => {
      text += c.toString();
    });
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
    socket.end(`GET /api/tags HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(64 * 1024)}\r\n\r\n`);
  });
  assert.match(raw, /^HTTP\/1\.1 431 /);
  assert.match(raw, /\r\nx-content-type-options: nosniff\r\n/);
  assert.match(raw, /\r\ncache-control: no-store\r\n/);
});
