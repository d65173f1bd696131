import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { loadConfig } from "../lib/config/load.js";
import { ROOT } from "./helpers.js";

// `npm start` and the .deb use config/ollama_proxy.yml as shipped: every section must load.

const SHIPPED = join(ROOT, "config/ollama_proxy.yml");

test("the shipped config loads for development, test and production, without warnings", () => {
  for (const env of ["development", "test", "production"]) {
    const { config, warnings } = loadConfig({ file: SHIPPED, env, environ: {}, cwd: ROOT });
    assert.equal(config.env, env);
    assert.deepEqual(warnings, [], env);
    assert.ok(config.servers.length >= 1, `${env} has a server`);
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.servers[0]), `${env} is frozen`);
  }
});

test("each section keeps its own port, bind address and database", () => {
  const load = (env: string) => loadConfig({ file: SHIPPED, env, environ: {}, cwd: ROOT }).config;
  const dev = load("development");
  assert.equal(dev.proxyPort, 11400);
  assert.equal(dev.bind, "127.0.0.1");
  assert.equal(dev.database, join(ROOT, "db/development.sqlite3"));
  assert.equal(dev.logging.dir, join(ROOT, "log"));

  const tst = load("test");
  assert.equal(tst.proxyPort, 11401);
  assert.equal(tst.bind, "127.0.0.1");
  assert.equal(tst.logging.dir, null);

  const prod = load("production");
  assert.equal(prod.proxyPort, 11434);
  assert.equal(prod.bind, "0.0.0.0");
  assert.equal(prod.database, "/var/lib/ollama-proxy/ollama-proxy.sqlite3");
  assert.equal(prod.logging.dir, "/var/log/ollama-proxy");
  assert.deepEqual(
    prod.servers.map((s) => [s.key, s.priority]),
    [
      ["high_performance", 1],
      ["legacy", 2],
    ],
  );
});
