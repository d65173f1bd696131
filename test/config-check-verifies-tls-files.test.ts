import assert from "node:assert/strict";
import { chmodSync, chownSync, copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { makeTlsPair } from "./fixtures/tls-pair.js";
import { runCli, tempDir, writeConfig } from "./helpers.js";

// `config check` (what the unit runs before every start and reload) verifies the TLS files
// as `serve` will use them: they exist, the service's user can read them, they are PEM and
// one pair. A certificate that has expired, expires soon, or is for another host is a warning.

/** uid/gid of `nobody` on Debian: the database folder's owner, standing in for the .deb's `ollama`. */
const OWNER = 65534;

/** A config in `dir` with `tls`; the database in `dbDir` (default: `dir`). */
function configWith(dir: string, tls: Record<string, string>, dbDir = dir) {
  return writeConfig(dir, {
    database: join(dbDir, "proxy.sqlite3"),
    bind: "127.0.0.1",
    servers: { gpu1: { host: "127.0.0.1", port: 1 } },
    logging: { level: "silent", dir: null },
    tls,
  }).file;
}

async function check(file: string) {
  const r = await runCli(["config", "check", "--offline", "--json", "--config", file, "--env", "test"]);
  const section = (JSON.parse(r.out) as { sections: { ok: boolean; errors: string[]; warnings: string[] }[] })
    .sections[0]!;
  return { code: r.code, ...section };
}

function pairIn(t: TestContext, opts: Parameters<typeof makeTlsPair>[2] = {}) {
  const dir = tempDir(t);
  return { dir, ...makeTlsPair(dir, "proxy", opts) };
}

test("a good pair: OK, listening over HTTPS, no warning", async (t) => {
  const p = pairIn(t);
  const file = configWith(p.dir, { cert: p.cert, key: p.key, ca: p.cert });
  const r = await runCli(["config", "check", "--offline", "--config", file, "--env", "test"]);
  assert.equal(r.code, 0, r.err);
  assert.match(
    r.out,
    /\[test\]: OK — 1 enabled server\(s\), 0 external host\(s\), listening on 127\.0\.0\.1:\d+ over HTTPS$/,
  );
  assert.equal(r.err, "");
});

test("missing files: exit 78, each named by its key and path", async (t) => {
  const p = pairIn(t);
  const file = configWith(p.dir, {
    cert: join(p.dir, "none.crt"),
    key: join(p.dir, "none.key"),
    ca: join(p.dir, "ca.pem"),
  });
  const r = await check(file);
  assert.equal(r.code, 78);
  assert.deepEqual(r.errors, [
    `test.tls.cert: ${join(p.dir, "none.crt")} does not exist (ENOENT)`,
    `test.tls.key: ${join(p.dir, "none.key")} does not exist (ENOENT)`,
    `test.tls.ca: ${join(p.dir, "ca.pem")} does not exist (ENOENT)`,
  ]);
});

test("a key of another pair, swapped files, not PEM: exit 78 with what is wrong", async (t) => {
  const p = pairIn(t);
  const other = makeTlsPair(p.dir, "other");
  const mismatched = await check(configWith(p.dir, { cert: p.cert, key: other.key }));
  assert.equal(mismatched.code, 78);
  assert.deepEqual(mismatched.errors, [
    `test.tls: the key ${other.key} does not belong to the certificate ${p.cert} (they are from different pairs)`,
  ]);

  const swapped = await check(configWith(p.dir, { cert: p.key, key: p.cert }));
  assert.deepEqual(swapped.errors, [
    `test.tls.cert: ${p.key} holds a private key, not a certificate (are cert and key swapped?)`,
    `test.tls.key: ${p.cert} holds a certificate, not a private key (are cert and key swapped?)`,
  ]);

  const config = join(p.dir, "ollama_proxy.yml");
  const notPem = await check(configWith(p.dir, { cert: p.cert, key: p.key, ca: config }));
  assert.deepEqual(notPem.errors, [
    `test.tls.ca: ${config} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
  ]);
});

test("an expired certificate, one that expires soon, one for another host: warnings, exit 0", async (t) => {
  const expired = pairIn(t, { expired: true });
  const a = await check(configWith(expired.dir, { cert: expired.cert, key: expired.key }));
  assert.equal(a.code, 0);
  assert.deepEqual(a.warnings, [
    `test.tls.cert: the certificate ${expired.cert} expired on 2020-01-02T00:00:00.000Z: clients refuse it; renew it, then reload`,
  ]);

  const soon = pairIn(t, { days: 10 });
  const b = await check(configWith(soon.dir, { cert: soon.cert, key: soon.key }));
  assert.equal(b.code, 0);
  assert.equal(b.warnings.length, 1);
  assert.match(
    b.warnings[0]!,
    /^test\.tls\.cert: the certificate .* expires in 9 day\(s\), on \d{4}-\d\d-\d\dT[\d:.]+Z: renew it, then reload \(SIGHUP\)$/,
  );

  const elsewhere = pairIn(t, { names: "DNS:gpu.example.com" });
  const c = await check(configWith(elsewhere.dir, { cert: elsewhere.cert, key: elsewhere.key }));
  assert.equal(c.code, 0);
  assert.deepEqual(c.warnings, [
    `test.tls.cert: the certificate ${elsewhere.cert} is for DNS:gpu.example.com, not for localhost or 127.0.0.1: clients must reach the proxy by a name the certificate has, or they refuse it`,
  ]);
});

test("run as root: a key the database folder's owner cannot read is an error", {
  skip: process.getuid?.() !== 0 && "needs root to give the database folder to another user",
}, async (t) => {
  const dir = tempDir(t);
  chmodSync(dir, 0o755);
  const db = join(dir, "db");
  mkdirSync(db, { mode: 0o750 });
  chownSync(db, OWNER, OWNER);
  const tls = join(dir, "tls");
  mkdirSync(tls, { mode: 0o755 });
  const pair = makeTlsPair(tls);
  chmodSync(pair.cert, 0o644);
  chmodSync(pair.key, 0o600);
  const file = configWith(dir, { cert: pair.cert, key: pair.key }, db);

  const unreadable = await check(file);
  assert.equal(unreadable.code, 78);
  assert.deepEqual(unreadable.errors, [
    `test.tls.key: ${pair.key} is not readable by nobody (uid 65534), who owns the database folder ${db} and whom \`serve\` runs as: its permissions do not let that user read it; let that user read it (the .deb's service runs as ollama: \`chgrp ollama ${pair.key} && chmod g+r ${pair.key}\`), and search every folder above it`,
  ]);

  // Readable by the owner's group, as the README says to do it: fine.
  chownSync(pair.key, 0, OWNER);
  chmodSync(pair.key, 0o640);
  assert.equal((await check(file)).code, 0);

  // The same key in a folder only root may enter.
  const hidden = join(dir, "private");
  mkdirSync(hidden, { mode: 0o700 });
  const key = join(hidden, "proxy.key");
  copyFileSync(pair.key, key);
  chownSync(key, 0, OWNER);
  chmodSync(key, 0o640);
  const blocked = await check(configWith(dir, { cert: pair.cert, key }, db));
  assert.equal(blocked.code, 78);
  assert.match(
    blocked.errors[0]!,
    new RegExp(
      `^test\\.tls\\.key: ${key} is not readable by nobody .*: the folder ${hidden} is not searchable by that user; `,
    ),
  );
});

test("run as another user: a file it cannot read is an error", {
  skip: process.getuid?.() === 0 && "root reads every file; the test above covers it",
}, async (t) => {
  const p = pairIn(t);
  chmodSync(p.key, 0o000);
  const r = await check(configWith(p.dir, { cert: p.cert, key: p.key }));
  assert.equal(r.code, 78);
  assert.match(
    r.errors[0]!,
    /^test\.tls\.key: .* is not readable by user .* \(EACCES\): let that user read it/,
  );
});
