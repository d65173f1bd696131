import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, loadConfig } from "../lib/config/load.js";
import { tempDir } from "./helpers.js";

// `tls` as written: relative paths resolve like `database` (against the working folder), an
// absent `tls` is plain HTTP, and a mistake in the section is named by its path.

function load(t: Parameters<typeof tempDir>[0], tlsYaml: string, cwd = "/srv/olp") {
  const file = join(tempDir(t), "c.yml");
  writeFileSync(file, `test:\n  database: db/x.sqlite3\n${tlsYaml}`);
  return loadConfig({ file, env: "test", environ: {}, cwd });
}

function problems(t: Parameters<typeof tempDir>[0], tlsYaml: string): readonly string[] {
  try {
    load(t, tlsYaml);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail("the file loaded");
}

test("relative tls paths resolve like database; no tls is plain HTTP", (t) => {
  const { config } = load(
    t,
    "  tls:\n    cert: tls/proxy.crt\n    key: /etc/olp/proxy.key\n    ca: ca.pem\n",
  );
  assert.equal(config.database, "/srv/olp/db/x.sqlite3");
  assert.deepEqual(config.tls, {
    cert: "/srv/olp/tls/proxy.crt",
    key: "/etc/olp/proxy.key",
    ca: "/srv/olp/ca.pem",
  });
  assert.equal(load(t, "  tls:\n    cert: a.crt\n    key: a.key\n").config.tls?.ca, null);
  assert.equal(load(t, "").config.tls, null);
  // Its keys commented out: off, as when it is absent.
  assert.equal(load(t, "  tls:\n    # cert: a.crt\n").config.tls, null);
});

test("a tls section without its key, with a key it does not know, or not a mapping", (t) => {
  assert.deepEqual(problems(t, "  tls:\n    cert: a.crt\n"), ["test.tls.key: is required"]);
  assert.deepEqual(problems(t, "  tls:\n    cert: a.crt\n    key: a.key\n    pem: b\n"), [
    "test.tls.pem: unknown key",
  ]);
  assert.deepEqual(problems(t, '  tls:\n    cert: ""\n    key: a.key\n'), [
    "test.tls.cert: must NOT have fewer than 1 characters",
  ]);
  assert.deepEqual(problems(t, "  tls: yes\n"), ["test.tls: must be object,null"]);
});
