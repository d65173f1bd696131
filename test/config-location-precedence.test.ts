import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { main } from "../lib/cli/main.js";
import { ConfigError, loadConfig } from "../lib/config/load.js";
import { tempDir } from "./helpers.js";

// Which file and which section: --config beats OLLAMA_PROXY_CONFIG beats
// config/ollama_proxy.yml; --env beats OLLAMA_PROXY_ENV beats development.

/** Three files whose sections differ only by port, so the port says what was read. */
function layout(t: Parameters<typeof tempDir>[0]) {
  const dir = tempDir(t);
  mkdirSync(join(dir, "config"));
  const file = (name: string, base: number) => {
    const path = join(dir, name);
    const sections = ["development", "test", "production"]
      // One server each: `config check` refuses a section with none.
      .map((env, i) => `${env}:\n  proxy_port: ${base + i}\n  servers: {gpu: {host: 127.0.0.1, port: 1}}\n`)
      .join("");
    writeFileSync(path, sections);
    return path;
  };
  return {
    dir,
    shipped: file("config/ollama_proxy.yml", 1000),
    fromEnv: file("from-env.yml", 2000),
    fromFlag: file("from-flag.yml", 3000),
  };
}

test("loadConfig: the option, then the environment variable, then the default", (t) => {
  const l = layout(t);
  const port = (opts: { file?: string; env?: string }, environ: NodeJS.ProcessEnv) =>
    loadConfig({ ...opts, environ, cwd: l.dir }).config.proxyPort;

  assert.equal(port({}, {}), 1000, "default file, development");
  assert.equal(port({}, { OLLAMA_PROXY_CONFIG: l.fromEnv }), 2000);
  assert.equal(port({ file: l.fromFlag }, { OLLAMA_PROXY_CONFIG: l.fromEnv }), 3000);
  assert.equal(port({}, { OLLAMA_PROXY_ENV: "production" }), 1002);
  assert.equal(port({ env: "test" }, { OLLAMA_PROXY_ENV: "production" }), 1001);
  assert.equal(
    port(
      { file: l.fromFlag, env: "test" },
      { OLLAMA_PROXY_CONFIG: l.fromEnv, OLLAMA_PROXY_ENV: "production" },
    ),
    3001,
  );
  // A relative --config is read from the working directory.
  assert.equal(port({ file: "from-flag.yml" }, {}), 3000);
  // Set but empty (systemd's `Environment=OLLAMA_PROXY_ENV=`) is the same as unset.
  assert.equal(port({}, { OLLAMA_PROXY_CONFIG: "", OLLAMA_PROXY_ENV: "" }), 1000);
});

test("a section the file does not have is an error naming it and the ones it has", (t) => {
  const l = layout(t);
  for (const env of ["staging", "toString", "__proto__"]) {
    assert.throws(
      () => loadConfig({ file: l.shipped, env, environ: {} }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.problems[0] === `${env}: no such section (the file has: development, test, production)`,
      env,
    );
  }
});

test("the CLI takes --config and --env over the environment variables", async (t) => {
  const l = layout(t);
  const saved = { config: process.env.OLLAMA_PROXY_CONFIG, env: process.env.OLLAMA_PROXY_ENV };
  t.after(() => {
    for (const [k, v] of [
      ["OLLAMA_PROXY_CONFIG", saved.config],
      ["OLLAMA_PROXY_ENV", saved.env],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  process.env.OLLAMA_PROXY_CONFIG = l.fromEnv;
  process.env.OLLAMA_PROXY_ENV = "production";

  const check = async (argv: string[]) => {
    const out: string[] = [];
    const code = await main(["config", "check", ...argv], {
      out: (s) => out.push(s),
      err: (s) => out.push(s),
    });
    assert.equal(code, 0, out.join("\n"));
    return out.join("\n");
  };
  assert.match(await check([]), /from-env\.yml \[production\]: OK .* listening on 0\.0\.0\.0:2002/);
  assert.match(await check(["--config", l.fromFlag]), /from-flag\.yml \[production\]: OK .*:3002/);
  assert.match(await check(["--env", "test"]), /from-env\.yml \[test\]: OK .*:2001/);
  assert.match(
    await check(["--config", l.fromFlag, "--env", "development"]),
    /from-flag\.yml \[development\]: OK .*:3000/,
  );
});
