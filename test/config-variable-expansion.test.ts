// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} is the config syntax under test, not a template.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, loadConfig } from "../lib/config/load.js";
import { tempDir } from "./helpers.js";

// ${VAR} in a string value comes from the environment; a variable that is not set is an
// error naming the key path, never a silent empty string.

const YAML = `
test:
  proxy_port: "\${OLP_PORT}"
  servers:
    gpu1:
      host: "\${OLP_HOST}"
      port: 11434
      name: "gpu-\${OLP_SITE}-\${OLP_RACK}"
  external_hosts:
    groq:
      host: "api.groq.com"
      base_path: "/openai/v1"
      api_key_env: "GROQ_KEY"
  model_config:
    memory_patterns:
      - pattern: "\${OLP_PATTERN}"
        memory_gb: 4
  metrics:
    token: "$NOT_EXPANDED and \${ not a var }"
`;

function write(t: Parameters<typeof tempDir>[0], text: string): string {
  const file = join(tempDir(t), "ollama_proxy.yml");
  writeFileSync(file, text);
  return file;
}

test("set variables are expanded, including inside longer strings and lists", (t) => {
  const file = write(t, YAML);
  const { config } = loadConfig({
    file,
    env: "test",
    environ: {
      OLP_PORT: "12000",
      OLP_HOST: "10.0.0.7",
      OLP_SITE: "ams",
      OLP_RACK: "r2",
      OLP_PATTERN: "-8b$",
    },
  });
  assert.equal(config.proxyPort, 12000, "a number written as ${VAR} is a number");
  assert.equal(config.servers[0]!.host, "10.0.0.7");
  assert.equal(config.servers[0]!.name, "gpu-ams-r2");
  assert.equal(config.models.memoryPatterns[0]!.source, "-8b$");
  assert.equal(config.metrics.token, "$NOT_EXPANDED and ${ not a var }", "only ${NAME} is a variable");
});

test("the process environment is not consulted when one is given", (t) => {
  const file = write(t, 'test:\n  servers:\n    a:\n      host: "${HOME}"\n      port: 1\n');
  assert.ok(process.env.HOME !== undefined);
  assert.throws(
    () => loadConfig({ file, env: "test", environ: {} }),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.problems.includes("test.servers.a.host: environment variable HOME is not set"),
  );
});

test("every unset variable is an error naming its path, all at once", (t) => {
  const file = write(t, YAML);
  let err: unknown;
  try {
    loadConfig({ file, env: "test", environ: { OLP_SITE: "ams" } });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError, String(err));
  assert.deepEqual(err.problems, [
    "test.proxy_port: environment variable OLP_PORT is not set",
    "test.servers.gpu1.host: environment variable OLP_HOST is not set",
    "test.servers.gpu1.name: environment variable OLP_RACK is not set",
    "test.model_config.memory_patterns.0.pattern: environment variable OLP_PATTERN is not set",
  ]);
  assert.match(err.message, /OLP_PORT is not set\n {2}test\.servers\.gpu1\.host/);
});
