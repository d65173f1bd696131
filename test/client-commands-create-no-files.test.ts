import assert from "node:assert/strict";
import { readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import test from "node:test";
import { connectAddress, spawnCli } from "./fixtures/client-cli.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy, tempDir } from "./helpers.js";

// login, whoami, connect and logout run on a laptop with only the CLI: no server config, no
// database, no log folder. Run as a developer would — the real binary, HOME its own, in an
// empty working folder, with a config path that would stop any command that read it — they
// leave nothing but ~/.config/ollama-proxy/credentials.json, and logout removes that.

function filesUnder(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else found.push(relative(dir, p));
    }
  };
  walk(dir);
  return found.sort();
}

test("the client commands read no config, create no database or log, only the credentials", async (t) => {
  const fake = await startFakeOllama({ name: "gpu1" });
  t.after(() => fake.close());
  const proxy = await startProxy(t, [fake]);
  const home = tempDir(t);
  const cwd = tempDir(t);
  const badConfig = join(tempDir(t), "ollama_proxy.yml");
  writeFileSync(badConfig, "production: [this is not a config\n");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    OLLAMA_PROXY_CONFIG: badConfig,
    OLLAMA_PROXY_ENV: "production",
  };
  delete env.XDG_CONFIG_HOME;
  const run = async (argv: string[], input?: string) => {
    const cli = spawnCli(t, argv, { env, cwd, ...(input === undefined ? {} : { input }) });
    const code = await cli.exited;
    assert.equal(code, 0, `${argv.join(" ")}: ${cli.stderr()}`);
    return cli;
  };
  const credentialsOnly = [".config/ollama-proxy/credentials.json"];

  await run(["login", proxy.url, "--token-stdin"], `${proxy.userToken}\n`);
  assert.deepEqual(filesUnder(home), credentialsOnly);
  assert.match((await run(["whoami"])).stdout(), /^alice \(user\) at /);

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    const connect = spawnCli(t, ["connect", "--listen", "127.0.0.1:0"], { env, cwd });
    const hostPort = await connectAddress(connect);
    assert.equal((await fetch(`http://${hostPort}/api/tags`)).status, 200);
    connect.child.kill(signal);
    assert.equal(await connect.exited, 0, `${signal}: ${connect.stderr()}`);
    assert.equal(connect.stderr(), "");
  }

  assert.deepEqual(filesUnder(home), credentialsOnly);
  await run(["logout"]);
  assert.deepEqual(filesUnder(home), []);
  assert.deepEqual(filesUnder(cwd), [], "nothing in the working folder: no db/, no log/");
});
