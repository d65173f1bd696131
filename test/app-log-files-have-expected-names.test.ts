import assert from "node:assert/strict";
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { createAppLog } from "../lib/log/app-log.js";
import { tempDir, writeConfig } from "./helpers.js";

// pino-roll numbers its daily files; the name operators expect (log/<env>.log, and
// application.log in production) is a link that always reaches the live file.

async function writeOneLine(env: string, dir: string, logDir: string): Promise<void> {
  const { config } = writeConfig(dir, { logging: { level: "info", dir: logDir } }, env);
  const appLog = createAppLog(config);
  appLog.log.info(
    { authorization: "Bearer olp_secret", headers: { cookie: "c=olp_secret" } },
    `hello ${env}`,
  );
  await appLog.close();
}

test("development writes log/development.log → current.log → development.<date>.1.log", async (t) => {
  const dir = tempDir(t);
  const logDir = join(dir, "log");
  await writeOneLine("development", dir, logDir);
  const names = readdirSync(logDir).sort();
  assert.equal(names.length, 3, names.join(", "));
  const [current, dated, stable] = names as [string, string, string];
  assert.equal(current, "current.log");
  assert.match(dated, /^development\.\d{4}-\d\d-\d\d\.1\.log$/);
  assert.equal(stable, "development.log");
  assert.ok(lstatSync(join(logDir, stable)).isSymbolicLink());
  assert.equal(readlinkSync(join(logDir, stable)), "current.log");
  assert.equal(readlinkSync(join(logDir, current)), dated);
  const line = JSON.parse(readFileSync(join(logDir, stable), "utf8").trim()) as Record<string, unknown>;
  assert.equal(line.msg, "hello development");
  assert.equal(line.authorization, "[redacted]");
  assert.deepEqual(line.headers, { cookie: "[redacted]" });

  // A restart the same day appends to the same file through the same link.
  await writeOneLine("development", dir, logDir);
  assert.deepEqual(readdirSync(logDir).sort(), names);
  assert.equal(readFileSync(join(logDir, stable), "utf8").trim().split("\n").length, 2);
});

test("production's files are application.*; a file in the way of the link is left alone", async (t) => {
  const dir = tempDir(t);
  const logDir = join(dir, "var-log");
  await writeOneLine("production", dir, logDir);
  assert.equal(readlinkSync(join(logDir, "application.log")), "current.log");
  assert.ok(readdirSync(logDir).some((n) => /^application\.\d{4}-\d\d-\d\d\.1\.log$/.test(n)));

  // An operator's own regular file named like the link.
  const other = tempDir(t);
  const otherLog = join(other, "log");
  mkdirSync(otherLog);
  writeFileSync(join(otherLog, "ops.log"), "kept\n");
  const { config } = writeConfig(other, { logging: { level: "info", dir: otherLog } }, "ops");
  const appLog = createAppLog(config);
  appLog.log.info("x");
  await appLog.close();
  assert.equal(readFileSync(join(otherLog, "ops.log"), "utf8"), "kept\n");
  assert.match(
    readFileSync(join(otherLog, "current.log"), "utf8"),
    /a file is in the way of the app log link/,
  );
  assert.ok(!lstatSync(join(otherLog, "ops.log")).isSymbolicLink());
});
