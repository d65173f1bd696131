import assert from "node:assert/strict";
import test from "node:test";
import { clientHome, login, startConnect } from "./fixtures/client-cli.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// With the proxy down, connect still starts (it may come back) and answers each request with
// a 502 in the client's dialect that says why, so the `ollama` command prints something useful.

test("connect answers 502 with the reason when the proxy cannot be reached", async (t) => {
  clientHome(t);
  const fake = await startFakeOllama({ name: "gpu1" });
  t.after(() => fake.close());
  const proxy = await startProxy(t, [fake]);
  assert.equal((await login(proxy.url, proxy.userToken)).code, 0);
  await proxy.close();

  const door = await startConnect(t);
  const reason = `nothing listens at ${proxy.url} (connection refused): check the host and port`;
  assert.deepEqual(door.stderr, [`warning: ${reason}; forwarding anyway`]);
  assert.equal(door.stdout[0], `ollama-proxy connect: ${door.hostPort} → ${proxy.url}`);

  const ollama = await fetch(`${door.url}/api/tags`);
  assert.equal(ollama.status, 502);
  assert.deepEqual(await ollama.json(), { error: `ollama-proxy connect: ${reason}` });
  const openai = await fetch(`${door.url}/v1/models`);
  assert.equal(openai.status, 502);
  assert.deepEqual(await openai.json(), {
    error: { message: `ollama-proxy connect: ${reason}`, type: "api_error", code: null },
  });
  const anthropic = await fetch(`${door.url}/v1/messages`, { method: "POST", body: "{}" });
  assert.equal(anthropic.status, 502);
  assert.deepEqual(await anthropic.json(), {
    type: "error",
    error: { type: "api_error", message: `ollama-proxy connect: ${reason}` },
  });
  assert.equal(door.stderr.at(-1), `connect: POST /v1/messages: ${reason}`);
});
