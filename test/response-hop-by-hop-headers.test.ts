import assert from "node:assert/strict";
import { request } from "node:http";
import { test } from "node:test";
import { startRawUpstream } from "./fixtures/raw-upstream.js";
import { startProxy } from "./helpers.js";

// Hop-by-hop headers of a backend's answer (RFC 9110 §7.6.1), including any the backend
// names in its Connection header, describe the proxy's connection to it: they are not
// passed on to the client. End-to-end headers are.

test("the backend's hop-by-hop headers stop at the proxy", async (t) => {
  const body = '{"model":"llama3","response":"hi","done":true}\n';
  const upstream = await startRawUpstream("gpu1", (socket) => {
    socket.end(
      "HTTP/1.1 200 OK\r\n" +
        "content-type: application/x-ndjson\r\n" +
        "connection: keep-alive, X-Internal-Route\r\n" +
        "keep-alive: timeout=99\r\n" +
        "x-internal-route: rack-7\r\n" +
        "proxy-connection: keep-alive\r\n" +
        "x-visible: yes\r\n" +
        "transfer-encoding: chunked\r\n\r\n" +
        `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    );
  });
  t.after(() => upstream.close());
  const proxy = await startProxy(t, [upstream]);

  const answer = await new Promise<{ headers: import("node:http").IncomingHttpHeaders; text: string }>(
    (resolve, reject) => {
      const req = request(`${proxy.url}/api/generate`, { method: "POST", headers: proxy.auth }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () => resolve({ headers: res.headers, text }));
      });
      req.on("error", reject);
      req.end('{"model":"llama3","prompt":"hi"}');
    },
  );
  assert.equal(answer.text, body);
  assert.equal(answer.headers["x-visible"], "yes");
  assert.equal(answer.headers["x-ollama-proxy-server"], "gpu1");
  assert.equal(answer.headers["x-internal-route"], undefined, "named in the backend's Connection header");
  assert.equal(answer.headers["proxy-connection"], undefined);
  assert.notEqual(
    answer.headers["keep-alive"],
    "timeout=99",
    "the proxy's own keep-alive, not the backend's",
  );
});
