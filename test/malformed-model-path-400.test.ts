import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// GET /v1/models/{model} takes the model from the path, percent-encoded. A broken escape is
// the client's mistake: a 400 in OpenAI's shape, and the proxy keeps serving.

test("a malformed percent-escape in /v1/models/{model} is a 400, not a crash", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);

  for (const path of ["/v1/models/%", "/v1/models/llama3%3", "/v1/models/%E0%A4%A", "/v1/models/%ZZ"]) {
    const res = await fetch(`${proxy.url}${path}`, { headers: proxy.auth });
    assert.equal(res.status, 400, path);
    assert.deepEqual(await res.json(), {
      error: {
        message: `${path}: the model name is not valid percent-encoding`,
        type: "invalid_request_error",
        code: "bad_request",
      },
    });
  }
  // Well-formed escapes decode; the proxy is still up.
  const ok = await fetch(`${proxy.url}/v1/models/llama3%3Alatest`, { headers: proxy.auth });
  assert.equal(ok.status, 200);
  assert.equal(((await ok.json()) as { id: string }).id, "llama3:latest");
  const missing = await fetch(`${proxy.url}/v1/models/nope`, { headers: proxy.auth });
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { error: { code: string } }).error.code, "model_not_found");
});
