import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, loadConfig } from "../lib/config/load.js";
import { tempDir } from "./helpers.js";

// A bad file stops start-up with every problem named by its key path, all in one go: an
// operator fixing a config should not have to run the check once per mistake.

function problemsOf(t: Parameters<typeof tempDir>[0], yaml: string, env = "production"): readonly string[] {
  const file = join(tempDir(t), "bad.yml");
  writeFileSync(file, yaml);
  try {
    loadConfig({ file, env, environ: {} });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    for (const p of err.problems) assert.ok(err.message.includes(`\n  ${p}`), `message lists ${p}`);
    return err.problems;
  }
  assert.fail("the file loaded");
}

test("each kind of mistake is one `path: message` line", (t) => {
  const cases: [string, string][] = [
    [
      "servers:\n    legacy:\n      host: a\n      port: eleven",
      "production.servers.legacy.port: must be integer",
    ],
    [
      "servers:\n    legacy:\n      host: a\n      port: 70000",
      "production.servers.legacy.port: must be <= 65535",
    ],
    ["proxy_port: 80.5", "production.proxy_port: must be integer"],

    ["servers:\n    legacy:\n      port: 1", "production.servers.legacy.host: is required"],
    ["listen_port: 1", "production.listen_port: unknown key"],
    [
      "servers:\n    legacy:\n      host: a\n      port: 1\n      protocol: ftp",
      'production.servers.legacy.protocol: must be one of "http", "https"',
    ],
    [
      "logging:\n    level: loud",
      'production.logging.level: must be one of "trace", "debug", "info", "warn", "error", "fatal", "silent"',
    ],
    [
      "servers:\n    legacy:\n      host: a\n      port: 1\n      enabled: maybe",
      "production.servers.legacy.enabled: must be boolean",
    ],
    [
      "trusted_proxies:\n    - 10.0.0.0/33",
      "production.trusted_proxies.0: must be an IP address or CIDR range",
    ],
    [
      "trusted_proxies:\n    - proxy.local",
      "production.trusted_proxies.0: must be an IP address or CIDR range",
    ],
    // An empty prefix length would read as /0: every address on the internet trusted.
    [
      "trusted_proxies:\n    - 10.0.0.0/",
      "production.trusted_proxies.0: must be an IP address or CIDR range",
    ],
    [
      "trusted_proxies:\n    - 10.0.0.0/1e1",
      "production.trusted_proxies.0: must be an IP address or CIDR range",
    ],
    ["limits:\n    max_body_mb: 0", "production.limits.max_body_mb: must be > 0"],
  ];
  for (const [section, want] of cases) {
    assert.deepEqual(problemsOf(t, `production:\n  ${section}\n`), [want], section);
  }
  // A misspelt key is both unknown and a missing one: each is named.
  assert.deepEqual(problemsOf(t, "production:\n  servers:\n    legacy:\n      hots: a\n      port: 1\n"), [
    "production.servers.legacy.host: is required",
    "production.servers.legacy.hots: unknown key",
  ]);
  // Assignments name a server or host by key or by name: each label must mean one target.
  assert.deepEqual(
    problemsOf(
      t,
      "production:\n  servers:\n    a: {host: h, port: 1, name: big}\n    big: {host: h, port: 2}\n" +
        "    gpu: {host: h, port: 3}\n  external_hosts:\n    gpu: {host: api.example.com}\n",
    ),
    [
      'production: the name "big" is used by both servers.a and servers.big',
      'production: the name "gpu" is used by both servers.gpu and external_hosts.gpu',
    ],
  );
  const regex = problemsOf(
    t,
    'production:\n  model_config:\n    memory_patterns:\n      - pattern: "(7b"\n        memory_gb: 4\n',
  );
  assert.equal(regex.length, 1);
  assert.match(
    regex[0]!,
    /^production\.model_config\.memory_patterns\.0\.pattern: Invalid regular expression/,
  );
});

test("all the problems of a file are reported together", (t) => {
  const problems = problemsOf(
    t,
    `production:
  proxy_port: "abc"
  colour: blue
  servers:
    legacy:
      host: "a"
      port: "eleven"
      protocol: "gopher"
    nohost:
      port: 2
  logging:
    level: "loud"
  model_config:
    memory_patterns:
      - pattern: ".*-7b.*"
        memory_gb: 4.5
      - pattern: "[unclosed"
        memory_gb: 1
  trusted_proxies:
    - "10.0.0.1"
    - "not-an-ip"
    - "fd00::/129"
`,
  );
  const want = [
    "production.proxy_port: must be integer",
    "production.colour: unknown key",
    "production.servers.legacy.port: must be integer",
    'production.servers.legacy.protocol: must be one of "http", "https"',
    "production.servers.nohost.host: is required",
    'production.logging.level: must be one of "trace", "debug", "info", "warn", "error", "fatal", "silent"',
    "production.trusted_proxies.1: must be an IP address or CIDR range",
    "production.trusted_proxies.2: must be an IP address or CIDR range",
  ];
  for (const w of want) assert.ok(problems.includes(w), `missing: ${w}\ngot:\n${problems.join("\n")}`);
  const regex = problems.filter((p) => p.startsWith("production.model_config.memory_patterns.1.pattern: "));
  assert.equal(regex.length, 1, problems.join("\n"));
  assert.equal(problems.length, want.length + 1, problems.join("\n"));
});
