import assert from "node:assert/strict";
import test from "node:test";
import { clientHome, login, runClient } from "./fixtures/client-cli.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// whoami asks the proxy (GET /proxy/me with the stored token): who you are, your role, your
// policy and the models you may use — for a user and for an admin.

test("whoami prints name, role, policy, expiry and models for a user and an admin", async (t) => {
  clientHome(t);
  const fake = await startFakeOllama({
    name: "gpu1",
    models: [{ name: "llama3:latest" }, { name: "qwen2.5:7b" }],
  });
  t.after(() => fake.close());
  const proxy = await startProxy(t, [fake]);

  for (const [token, name, role] of [
    [proxy.userToken, "alice", "user"],
    [proxy.adminToken, "root", "admin"],
  ] as const) {
    assert.equal((await login(proxy.url, token)).code, 0);
    const text = await runClient(["whoami"]);
    assert.equal(text.code, 0, text.err);
    assert.equal(
      text.out,
      [
        `${name} (${role}) at ${proxy.url}`,
        "policy:  none",
        "expires: never",
        "models:  2: llama3:latest, qwen2.5:7b",
      ].join("\n"),
    );
    const json = await runClient(["whoami", "--json"]);
    assert.equal(json.code, 0, json.err);
    assert.deepEqual(JSON.parse(json.out), {
      url: proxy.url,
      name,
      role,
      policy: null,
      expires_at: null,
      models: ["llama3:latest", "qwen2.5:7b"],
    });
  }
});
