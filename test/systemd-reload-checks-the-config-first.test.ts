import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "./helpers.js";

// `systemctl reload ollama-proxy` must fail, visibly, on a bad file (as nginx's does): the
// unit checks the config before it sends SIGHUP. systemd runs several ExecReload= lines in
// order and stops at the first that fails.

test("the unit's ExecReload runs config check, then SIGHUP; starts are checked the same way", () => {
  const unit = readFileSync(join(ROOT, "packaging/ollama-proxy.service"), "utf8");
  const lines = (key: string) =>
    unit
      .split("\n")
      .filter((l) => l.startsWith(`${key}=`))
      .map((l) => l.slice(key.length + 1));
  assert.deepEqual(lines("ExecReload"), [
    "/usr/bin/ollama-proxy config check --offline",
    "/bin/kill -HUP $MAINPID",
  ]);
  assert.deepEqual(lines("ExecStartPre"), ["/usr/bin/ollama-proxy config check --offline"]);
});
