import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { test } from "node:test";
import { ROOT } from "./helpers.js";

// The dependency rule of STYLE.md: cli → server → pipeline → stages → {forward, observe} →
// {routing, http, log} → config → store → leaf modules. An import may only point down (or
// within its own folder), and no cycle is allowed, type-only imports included.

const LAYERS: [prefix: string, rank: number][] = [
  ["index.ts", 100],
  ["cli/", 90],
  ["client/", 85],
  ["server.ts", 80],
  ["pipeline.ts", 70],
  ["stages/", 60],
  ["forward/", 50],
  ["observe/", 50],
  ["policy/", 45],
  ["schedule/", 45],
  ["routing/", 40],
  ["http/", 35],
  ["log/", 35],
  ["config/", 30],
  ["context.ts", 20],
  ["store/", 15],
  ["", 10], // the leaf modules at the top of lib/: errors, json, component, model-name, version, duration
];

function rank(file: string): number {
  return LAYERS.find(([prefix]) => file.startsWith(prefix))![1];
}

function folder(file: string): string {
  return file.includes("/") ? file.slice(0, file.indexOf("/")) : file;
}

function libImports(): Map<string, string[]> {
  const lib = join(ROOT, "lib");
  const files = (readdirSync(lib, { recursive: true }) as string[]).filter((f) => f.endsWith(".ts"));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(lib, file), "utf8");
    const deps: string[] = [];
    for (const m of text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]+)"/gms)) {
      if (m[1]!.endsWith(".json")) continue;
      deps.push(normalize(join(dirname(file), m[1]!)).replace(/\.js$/, ".ts"));
    }
    graph.set(file, deps);
  }
  return graph;
}

test("every import in lib/ points down a layer, or stays in its folder", () => {
  const graph = libImports();
  assert.ok(graph.size > 40, "the sources were found");
  const upward: string[] = [];
  for (const [file, deps] of graph) {
    for (const dep of deps) {
      if (folder(dep) === folder(file) && file.includes("/")) continue;
      if (rank(dep) >= rank(file)) upward.push(`${file} → ${dep}`);
    }
  }
  assert.deepEqual(upward, []);
});

test("the import graph of lib/ has no cycle, type-only imports included", () => {
  const graph = libImports();
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (file: string, path: string[]) => {
    state.set(file, "open");
    for (const dep of graph.get(file) ?? []) {
      if (state.get(dep) === "open") cycles.push([...path.slice(path.indexOf(dep)), dep].join(" → "));
      else if (!state.has(dep)) visit(dep, [...path, dep]);
    }
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file, [file]);
  assert.deepEqual(cycles, []);
});
