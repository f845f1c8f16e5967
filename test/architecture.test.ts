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

/** Files of src/ outside src/store, with their text. */
function outsideStore(): Array<{ file: string; text: string }> {
  return sourceFiles(SRC)
    .filter((file) => !relative(SRC, file).startsWith("store/"))
    .map((file) => ({ file: relative(SRC, file), text: readFileSync(file, "utf8") }));
}

/** `file:line` of each match of `pattern` (a global regular expression) in the files given. */
function occurrences(files: Array<{ file: string; text: string }>, pattern: RegExp): string[] {
  return files.flatMap(({ file, text }) =>
    [...text.matchAll(pattern)].map((m) => `${file}:${text.slice(0, m.index).split("\n").length}`),
  );
}

it("opens transactions only in src/store: every state change goes through store.write", () => {
  // `.transaction()` and `.startTransaction()`, also split over lines (`db\n  .transaction()`).
  expect(occurrences(outsideStore(), /\.\s*(start)?[tT]ransaction\s*\(/g)).toEqual([]);
});

it("asks the store's capabilities, never which database it is, outside src/store", () => {
  const files = outsideStore();
  expect(occurrences(files, /dialect\s*[!=]==|[!=]==\s*["'](postgres|sqlite)["']/g)).toEqual([]);
  expect(occurrences(files, /\bdialectOf\b|\bPostgresAdapter\b|\bSqliteAdapter\b/g)).toEqual([]);
});
