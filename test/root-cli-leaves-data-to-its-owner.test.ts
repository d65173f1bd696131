import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { stringify } from "yaml";
import { ROOT, tempDir } from "./helpers.js";

// On the installed package root runs `ollama-proxy users create` against /var/lib/ollama-proxy,
// which belongs to the service user. Every file the CLI leaves there must be that user's, or
// the service cannot open its own database. The CLI switches identity for good, so it runs in
// a child process here; the test needs root to hand a folder to another user.

/** uid/gid of `nobody` on Debian: any non-root owner will do, it need not have a name. */
const OWNER = 65534;

const cli = pathToFileURL(join(ROOT, ".build/lib/cli/main.js")).href;

function run(args: string[], as?: { uid: number; gid: number }) {
  const script = `import { main } from ${JSON.stringify(cli)}; process.exitCode = await main(process.argv.slice(1));`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script, "--", ...args], {
    encoding: "utf8",
    ...(as ?? {}),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("root's users create and rotate leave only files the data folder's owner can open", {
  skip: process.getuid?.() !== 0 && "needs root to give a folder to another user",
}, (t) => {
  const dir = tempDir(t);
  chmodSync(dir, 0o755); // the owner must be able to reach its folder inside the temp dir
  const data = join(dir, "data");
  mkdirSync(data, { mode: 0o750 });
  chownSync(data, OWNER, OWNER);
  const file = join(dir, "config.yml");
  writeFileSync(
    file,
    stringify({ production: { database: join(data, "ollama-proxy.sqlite3"), logging: { dir: null } } }),
    { mode: 0o640 },
  );
  chownSync(file, 0, OWNER); // as the .deb ships it: root's, readable by the service's group
  const args = ["--config", file, "--env", "production"];

  const created = run(["users", "create", "alice", "--json", ...args]);
  assert.equal(created.code, 0, created.stderr);
  assert.match(JSON.parse(created.stdout).token, /^olp_/);
  const rotated = run(["users", "rotate", "alice", ...args]);
  assert.equal(rotated.code, 0, rotated.stderr);

  const files = readdirSync(data);
  assert.ok(files.includes("ollama-proxy.sqlite3"), `database created: ${files.join(", ")}`);
  for (const name of files) {
    const st = statSync(join(data, name));
    assert.deepEqual([name, st.uid, st.gid], [name, OWNER, OWNER], `${name} belongs to the owner`);
    assert.equal(st.mode & 0o077, 0, `${name} is private to the owner`);
  }

  // The owner itself (the service, in production) opens what root created.
  const listed = run(["users", "list", "--json", ...args], { uid: OWNER, gid: OWNER });
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(
    JSON.parse(listed.stdout).map((u: { name: string }) => u.name),
    ["alice"],
  );
});
