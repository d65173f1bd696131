// Prunes a production node_modules (already `npm prune --omit=dev`) down to what runs:
// packages only needed to install, then files no running program reads (sources, type
// declarations, source maps, tests, docs, the native addon's build leftovers).
// Usage: node prune-node-modules.mjs APP_DIR COPYRIGHT_OUT
//   APP_DIR holds package.json and node_modules/. Before the licence files go, the licence of
//   every package that stays is written to COPYRIGHT_OUT as copyright-format 1.0 paragraphs,
//   for the .deb's copyright file (Debian policy §12.5: licences live there, not beside code).
// Prints one line per removed package and a summary.
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { asCopyrightField } from "./license-text.mjs";

const [app, copyrightOut] = process.argv.slice(2);
if (!app || !copyrightOut) {
  console.error("usage: prune-node-modules.mjs APP_DIR COPYRIGHT_OUT");
  process.exit(64);
}
const modules = join(app, "node_modules");

// Dependencies that only run at `npm install` time: better-sqlite3 asks prebuild-install for a
// prebuilt addon before compiling one; the package carries the compiled addon instead.
const INSTALL_ONLY = { "better-sqlite3": ["prebuild-install"] };

const readJson = (file) => JSON.parse(readFileSync(file, "utf8"));

/** Node's lookup: the nearest node_modules/NAME from `fromDir` up to the app. */
function resolvePackage(name, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (dir === app || dir === dirname(dir)) return null;
  }
}

// Every package reachable from the app's dependencies, minus the install-only edges.
const keep = new Set();
const queue = [{ dir: app, pkg: readJson(join(app, "package.json")) }];
while (queue.length > 0) {
  const { dir, pkg } = queue.pop();
  const skip = new Set(INSTALL_ONLY[pkg.name] ?? []);
  const deps = { ...pkg.optionalDependencies, ...pkg.dependencies };
  for (const name of Object.keys(deps)) {
    if (skip.has(name)) continue;
    const found = resolvePackage(name, dir);
    if (found === null) {
      if (name in (pkg.optionalDependencies ?? {})) continue;
      throw new Error(`${pkg.name} needs ${name}, which is not installed`);
    }
    if (keep.has(found)) continue;
    keep.add(found);
    queue.push({ dir: found, pkg: readJson(join(found, "package.json")) });
  }
}

/** Every package folder under a node_modules folder, scoped and nested ones included. */
function packagesIn(nm) {
  if (!existsSync(nm)) return [];
  const out = [];
  for (const entry of readdirSync(nm)) {
    if (entry.startsWith(".")) continue;
    const path = join(nm, entry);
    if (entry.startsWith("@")) {
      for (const sub of readdirSync(path)) out.push(join(path, sub));
    } else {
      out.push(path);
    }
  }
  return out.flatMap((p) => [p, ...packagesIn(join(p, "node_modules"))]);
}

let removedPackages = 0;
for (const dir of packagesIn(modules)) {
  if (keep.has(dir) || !existsSync(dir)) continue;
  console.log(`not needed at run time: ${relative(modules, dir)}`);
  rmSync(dir, { recursive: true, force: true });
  removedPackages++;
}

const paragraphs = [...keep]
  .map((dir) => ({ dir, pkg: readJson(join(dir, "package.json")) }))
  .sort((a, b) => relative(modules, a.dir).localeCompare(relative(modules, b.dir)))
  .map(({ dir, pkg }) => {
    const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)/i.test(f));
    const text = file === undefined ? "" : readFileSync(join(dir, file), "utf8").replaceAll("\r", "");
    const notices = [...new Set(text.split("\n").filter((l) => /^\s*copyright\b.*\d{4}/i.test(l)))];
    const author = typeof pkg.author === "string" ? pkg.author : pkg.author?.name;
    const copyright = notices.map((l) => l.trim()).join("\n ") || author || `the ${pkg.name} authors`;
    const license = typeof pkg.license === "string" ? pkg.license : "see below";
    return [
      `Files: usr/lib/ollama-proxy/${relative(app, dir)}/*`,
      `Comment: ${pkg.name} ${pkg.version}`,
      `Copyright: ${copyright}`,
      `License: ${license}`,
      ...(text === "" ? [] : [asCopyrightField(text)]),
    ].join("\n");
  });
writeFileSync(copyrightOut, `${paragraphs.join("\n\n")}\n`);

// Files nobody loads at run time, anywhere in a package.
const DEAD_FILE =
  /(\.(md|markdown|map|ts|mts|cts|tsbuildinfo|flow|gyp|gypi)$)|^(license|licence|copying|changelog|history|authors|contributing|readme|security)(\.|-|$)|^(\.npmignore|\.gitignore|\.gitattributes|\.eslintrc.*|\.prettierrc.*|\.editorconfig|\.travis\.yml|\.taprc|\.nycrc.*|tsconfig.*\.json|makefile)$/i;
// At a package's top level only (yaml's dist/doc/ is code): test suites, docs, examples,
// maintainers' dot folders and scripts, and documentation web pages.
const DEAD_TOP_DIR = /^(\..+|test|tests|__tests__|example|examples|docs?|benchmarks?|bench|coverage)$/i;
const DEAD_TOP_FILE = /^\..+|\.(sh|html)$/i;

let removedBytes = 0;
const remove = (path) => {
  if (!existsSync(path)) return;
  removedBytes += sizeOf(path);
  rmSync(path, { recursive: true, force: true });
};
function sizeOf(path) {
  const st = lstatSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((n, e) => n + sizeOf(join(path, e)), 0);
}
function pruneFiles(dir, top) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === "node_modules") continue; // its packages are visited on their own
      if (top && DEAD_TOP_DIR.test(entry.name)) remove(path);
      else pruneFiles(path, false);
    } else if (DEAD_FILE.test(entry.name) || (top && DEAD_TOP_FILE.test(entry.name))) {
      remove(path);
    }
  }
}

/** A package's command-line entry points: nothing runs them (the .bin links go too). */
function removeCommands(dir) {
  const pkg = readJson(join(dir, "package.json"));
  const bins = typeof pkg.bin === "string" ? [pkg.bin] : Object.values(pkg.bin ?? {});
  for (const bin of bins) {
    if (join(dir, bin) !== join(dir, pkg.main ?? "index.js")) remove(join(dir, bin));
  }
}

for (const dir of keep) {
  if (existsSync(join(dir, "binding.gyp"))) {
    // A native addon: only its compiled .node file runs. Its C sources (deps/, src/) and the
    // compiler's intermediate output (build/ besides build/Release/*.node) are build leftovers;
    // better-sqlite3 also builds a test_extension.node used only by its own tests.
    for (const leftover of ["deps", "src"]) remove(join(dir, leftover));
    const build = join(dir, "build");
    for (const entry of existsSync(build) ? readdirSync(build) : []) {
      if (entry !== "Release") remove(join(build, entry));
    }
    const release = join(build, "Release");
    for (const entry of existsSync(release) ? readdirSync(release) : []) {
      if (!entry.endsWith(".node") || entry === "test_extension.node") remove(join(release, entry));
    }
  }
  removeCommands(dir);
  pruneFiles(dir, true);
}

// npm's own bookkeeping and command links: nothing in the package runs them.
for (const entry of [".bin", ".package-lock.json"]) remove(join(modules, entry));

/** Removes folders left empty (scopes whose packages all went), deepest first. */
function removeEmpty(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeEmpty(join(dir, entry.name));
  }
  if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true });
}
removeEmpty(modules);

console.log(
  `pruned node_modules: kept ${keep.size} packages, removed ${removedPackages} install-only packages and ${(removedBytes / 1e6).toFixed(1)} MB of files`,
);
