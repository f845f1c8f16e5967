import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { expect, it } from "vitest";

const SRC = join(import.meta.dirname, "..", "src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourceFiles(join(dir, e.name))
      : e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")
        ? [join(dir, e.name)]
        : [],
  );
}

/** Folder-level import graph of src/: which top-level folder imports which. */
function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of sourceFiles(SRC)) {
    const from = relative(SRC, file).split("/")[0] ?? "";
    for (const [, spec] of readFileSync(file, "utf8").matchAll(/from "(\.[^"]+)"/g)) {
      const to = relative(SRC, normalize(join(dirname(file), spec ?? ""))).split("/")[0] ?? "";
      if (to !== from && !to.startsWith("..")) graph.set(from, (graph.get(from) ?? new Set()).add(to));
    }
  }
  return graph;
}

it("has no import cycles between the folders of src/", () => {
  const graph = folderGraph();
  const reaches = (a: string, b: string, seen = new Set<string>()): boolean =>
    [...(graph.get(a) ?? [])].some((n) => n === b || (!seen.has(n) && seen.add(n) && reaches(n, b, seen)));
  const cycles = [...graph].flatMap(([a, tos]) =>
    [...tos].filter((b) => reaches(b, a)).map((b) => `${a} ⇄ ${b}`),
  );
  expect(cycles).toEqual([]);
  // The domain folder is the base everything builds on: it imports no other folder.
  expect([...(graph.get("domain") ?? [])]).toEqual([]);
});
