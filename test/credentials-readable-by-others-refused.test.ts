import assert from "node:assert/strict";
import { chmodSync } from "node:fs";
import test from "node:test";
import { clientHome, login, runClient } from "./fixtures/client-cli.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// A token in a file that others can read is no longer a secret: whoami and connect refuse to
// use it, and say the chmod that fixes it (as ssh does with a private key).

test("whoami and connect refuse a credentials file that group or others can read", async (t) => {
  const { credentials } = clientHome(t);
  const fake = await startFakeOllama({ name: "gpu1" });
  t.after(() => fake.close());
  const proxy = await startProxy(t, [fake]);
  assert.equal((await login(proxy.url, proxy.userToken)).code, 0);

  for (const mode of [0o644, 0o640, 0o604, 0o660]) {
    chmodSync(credentials, mode);
    const expected =
      `ollama-proxy: ${credentials} can be read by others (mode 0${mode.toString(8)}), so its token is no ` +
      `longer a secret: run \`chmod 600 ${credentials}\` (and ask for a new token if others may have read it)`;
    for (const argv of [["whoami"], ["connect", "--listen", "127.0.0.1:0"]]) {
      const r = await runClient(argv);
      assert.equal(r.code, 1, `${argv[0]} with mode ${mode.toString(8)}`);
      assert.equal(r.err, expected);
      assert.equal(r.out, "");
    }
  }

  chmodSync(credentials, 0o600);
  const fixed = await runClient(["whoami"]);
  assert.equal(fixed.code, 0, fixed.err);
});
