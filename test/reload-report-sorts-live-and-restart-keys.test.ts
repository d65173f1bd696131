import assert from "node:assert/strict";
import { test } from "node:test";
import { describeRestartKey, reloadReport } from "../lib/config/reload.js";
import type { Config } from "../lib/config/types.js";
import { tempDir, writeConfig } from "./helpers.js";

// Which keys a reload applies and which wait for a restart, decided by comparing configs:
// built here from files, as SIGHUP reads them.

const SERVERS = {
  a: { host: "127.0.0.1", port: 1 },
  b: { host: "127.0.0.1", port: 2 },
};

/** Each file in a folder of its own: paths in it are absolute, so that only what the test changes differs. */
function load(t: Parameters<typeof tempDir>[0], section: Record<string, unknown>): Config {
  const logging = { dir: null, ...(section.logging as object | undefined) };
  return writeConfig(tempDir(t), {
    database: "/tmp/olp-reload-test.sqlite3",
    servers: SERVERS,
    ...section,
    logging,
  }).config;
}

test("live keys are applied, listener, database and log writers wait for a restart", (t) => {
  const boot = load(t, { proxy_port: 11434, logging: { level: "info", dir: null } });
  const next = load(t, {
    proxy_port: 11500,
    bind: "0.0.0.0",
    database: "/tmp/elsewhere.sqlite3",
    logging: { level: "debug", dir: "/tmp/olp-logs", request_log: false },
    limits: { max_header_kb: 64, max_body_mb: 1, auth_block_seconds: 5 },
    servers: { ...SERVERS, b: { host: "127.0.0.1", port: 3 }, c: { host: "127.0.0.1", port: 4 } },
    model_config: { memory_patterns: [{ pattern: ":70b", memory_gb: 40 }] },
    policies: { default: { models: ["*"] } },
    health: { interval_seconds: 5 },
  });
  const report = reloadReport(boot, boot, next);
  assert.deepEqual([...report.applied].sort(), [
    "health.interval_seconds",
    "limits.auth_block_seconds",
    "limits.max_body_mb",
    "logging.level",
    "model_config.memory_patterns",
    "policies.default",
    "servers.b",
    "servers.c",
  ]);
  assert.deepEqual([...report.needsRestart].sort(), [
    "bind",
    "database",
    "limits.max_header_kb",
    "logging.dir",
    "logging.request_log",
    "proxy_port",
  ]);
});

test("a restart key is compared with what the process started with, a live key with what runs now", (t) => {
  const boot = load(t, { proxy_port: 11434, cache_ttl_seconds: 300 });
  const edited = load(t, { proxy_port: 11500, cache_ttl_seconds: 60 });
  const first = reloadReport(boot, boot, edited);
  assert.deepEqual(first, { applied: ["cache_ttl_seconds"], needsRestart: ["proxy_port"] });
  // Reloaded again unchanged: nothing new applies, the port still waits.
  assert.deepEqual(reloadReport(boot, edited, edited), { applied: [], needsRestart: ["proxy_port"] });
  // The port put back: nothing waits any more.
  assert.deepEqual(reloadReport(boot, edited, boot), { applied: ["cache_ttl_seconds"], needsRestart: [] });
});

test("metrics can be turned off live but not on; a key this table does not know waits for a restart", (t) => {
  const on = load(t, { metrics: { enabled: true } });
  const off = load(t, { metrics: { enabled: false } });
  assert.deepEqual(reloadReport(on, on, off), { applied: ["metrics.enabled"], needsRestart: [] });
  assert.deepEqual(reloadReport(off, off, on), { applied: [], needsRestart: ["metrics.enabled"] });

  // A key added by another part of the product is never reported as applied by mistake.
  const withNew = { ...on, clientCertificates: { required: true } } as Config;
  const otherNew = { ...on, clientCertificates: { required: false } } as Config;
  assert.deepEqual(reloadReport(withNew, withNew, otherNew), {
    applied: [],
    needsRestart: ["client_certificates"],
  });
  const limits = { ...on.limits, maxQueuedThings: 5 };
  assert.deepEqual(reloadReport(on, on, { ...on, limits } as Config), {
    applied: [],
    needsRestart: ["limits.max_queued_things"],
  });
});

test("another TLS pair applies live; turning TLS on or off waits for a restart", (t) => {
  const a = load(t, { tls: { cert: "/etc/a.pem", key: "/etc/a.key" } });
  const b = load(t, { tls: { cert: "/etc/b.pem", key: "/etc/b.key" } });
  const off = load(t, {});
  assert.deepEqual(reloadReport(a, a, b), { applied: ["tls"], needsRestart: [] });
  assert.deepEqual(reloadReport(a, a, off), { applied: [], needsRestart: ["tls"] });
  assert.deepEqual(reloadReport(off, off, a), { applied: [], needsRestart: ["tls"] });
  assert.equal(describeRestartKey("tls", off, a), "tls (off at start, on in the file)");
});

test("the scheduler's bounds and the body and send timeouts apply at once (the scheduler and each request read them)", (t) => {
  const boot = load(t, {});
  const next = load(t, {
    scheduler: { max_queue: 7, max_wait_seconds: 9, model_affinity_ms: 500, fair_share_window_seconds: 30 },
    limits: { send_timeout_ms: 5000, body_timeout_ms: 4000 },
  });
  const report = reloadReport(boot, boot, next);
  assert.deepEqual([...report.applied].sort(), [
    "limits.body_timeout_ms",
    "limits.send_timeout_ms",
    "scheduler.fair_share_window_seconds",
    "scheduler.max_queue",
    "scheduler.max_wait_seconds",
    "scheduler.model_affinity_ms",
  ]);
  assert.deepEqual(report.needsRestart, []);
});
