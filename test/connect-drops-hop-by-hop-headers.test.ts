import assert from "node:assert/strict";
import test from "node:test";
import { doorRequestHeaders, doorResponseHeaders } from "../lib/client/local-door.js";

// Headers that describe one connection stay on it (RFC 9110 §7.6.1), both ways through
// connect; the client's own Authorization never goes up, the stored token does.

test("connect drops hop-by-hop headers both ways and replaces Authorization", () => {
  const up = doorRequestHeaders(
    {
      host: "127.0.0.1:11434",
      "user-agent": "ollama/0.12.0",
      "content-type": "application/json",
      "content-length": "42",
      authorization: "Bearer client-sent",
      "proxy-authorization": "Basic eA==",
      connection: "keep-alive, X-Trace",
      "x-trace": "1",
      "keep-alive": "timeout=5",
      te: "trailers",
      trailer: "x-checksum",
      upgrade: "websocket",
      "proxy-connection": "keep-alive",
      expect: "100-continue",
      "x-request-id": "abc",
    },
    "olp_stored",
  );
  assert.deepEqual(up, {
    "user-agent": "ollama/0.12.0",
    "content-type": "application/json",
    "content-length": "42",
    "x-request-id": "abc",
    authorization: "Bearer olp_stored",
  });

  // A body of unknown length stays chunked on the way up, whatever the method.
  assert.deepEqual(doorRequestHeaders({ "transfer-encoding": "chunked" }, "t"), {
    "transfer-encoding": "chunked",
    authorization: "Bearer t",
  });

  const down = doorResponseHeaders({
    "content-type": "application/x-ndjson",
    "transfer-encoding": "chunked",
    connection: "keep-alive, X-Hop",
    "x-hop": "1",
    "keep-alive": "timeout=5",
    "proxy-authenticate": "Basic",
    "x-request-id": "abc",
    "x-ollama-proxy-server": "gpu1",
    "www-authenticate": 'Bearer realm="ollama-proxy"',
  });
  assert.deepEqual(down, {
    "content-type": "application/x-ndjson",
    "x-request-id": "abc",
    "x-ollama-proxy-server": "gpu1",
    "www-authenticate": 'Bearer realm="ollama-proxy"',
  });
});
