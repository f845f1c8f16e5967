/**
 * Groups advisory ids that name the same vulnerability (an OSV record's id and its `aliases`), so a
 * finding is reported once with all its ids.
 */

/** The group's display id: a CVE id when the group has one, else the smallest id (stable across runs). */
function preferred(a: string, b: string): string {
  const aCve = a.startsWith("CVE-");
  const bCve = b.startsWith("CVE-");
  if (aCve !== bCve) return aCve ? a : b;
  return a < b ? a : b;
}

/**
 * Maps every id and alias to its group's canonical id (union-find over "is an alias of"). `related`
 * ids are not aliases and are not merged.
 */
export function groupAliases(
  records: ReadonlyArray<{ id: string; aliases?: readonly string[] | null }>,
): Map<string, string> {
  const parent = new Map<string, string>();
  const find = (id: string): string => {
    let root = id;
    for (let p = parent.get(root); p !== undefined && p !== root; p = parent.get(root)) root = p;
    // Path compression keeps later look-ups flat.
    for (let node = id; node !== root; ) {
      const next = parent.get(node) ?? root;
      parent.set(node, root);
      node = next;
    }
    return root;
  };
  const add = (id: string): void => {
    if (!parent.has(id)) parent.set(id, id);
  };
  const union = (a: string, b: string): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra === rb) return;
    // The root is always the group's preferred id, so no second pass is needed.
    const root = preferred(ra, rb);
    parent.set(root === ra ? rb : ra, root);
  };
  for (const record of records) {
    add(record.id);
    for (const alias of record.aliases ?? []) {
      add(alias);
      union(record.id, alias);
    }
  }
  const groups = new Map<string, string>();
  for (const id of parent.keys()) groups.set(id, find(id));
  return groups;
}

/** The ids of each group, keyed by the group's canonical id, sorted with the canonical id first. */
export function aliasGroups(groups: ReadonlyMap<string, string>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [id, root] of groups) {
    const list = out.get(root) ?? [];
    list.push(id);
    out.set(root, list);
  }
  for (const [root, list] of out)
    list.sort((a, b) => (a === root ? -1 : b === root ? 1 : a < b ? -1 : a > b ? 1 : 0));
  return out;
}
