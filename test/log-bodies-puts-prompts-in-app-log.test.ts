import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { createAppLog } from "../lib/log/app-log.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";
import { section, tempDir, waitFor, writeConfig } from "./helpers.js";

// logging.log_bodies: true is the operator's explicit choice to keep prompts and answers in
// the app log (bounded); never the token. Off (the default), the same request leaves neither.

for (const logBodies of [true, false]) {
  test(`log_bodies: ${logBodies} ${logBodies ? "puts" : "keeps"} the prompt and the answer ${logBodies ? "in" : "out of"} the request line`, async (t) => {
    const dir = tempDir(t);
    const extra = { logging: { level: "info", dir: join(dir, "log"), log_bodies: logBodies } };
    const backend = await startFakeOllama({ name: "gpu1" });
    t.after(() => backend.close());
    const appLog = createAppLog(writeConfig(dir, section([backend], extra)).config);
    const proxy = await startLoggedProxy(t, [backend], { dir, extra, log: appLog.log });
    const prompt = "what is the capital of Portugal?";
    const res = await fetch(`${proxy.url}/api/generate`, {
      method: "POST",
      headers: proxy.auth,
      body: JSON.stringify({ model: "llama3", prompt }),
    });
    assert.equal(res.status, 200);
    await res.text();
    await proxy.close();
    await appLog.close();
    const file = join(dir, "log", "test.log");
    await waitFor("the request line", () => readFileSync(file, "utf8").includes('"msg":"request"'));
    const line = readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l.includes('"msg":"request"'))
      .map((l) => JSON.parse(l) as { requestBody?: string; responseBody?: string })[0]!;
    if (logBodies) {
      assert.equal(JSON.parse(line.requestBody ?? "{}").prompt, prompt);
      assert.match(line.responseBody ?? "", /"response":"w0 "/);
      assert.match(line.responseBody ?? "", /"done":true/);
    } else {
      assert.equal(line.requestBody, undefined);
      assert.equal(line.responseBody, undefined);
      assert.doesNotMatch(readFileSync(file, "utf8"), /capital of Portugal/);
    }
    assert.doesNotMatch(readFileSync(file, "utf8"), new RegExp(proxy.userToken));
  });
}
