/**
 * Advisories keyed for matching: one entry per `affected[]` entry of an OSV record, found by the
 * package's canonical ecosystem and name, then narrowed to the package's release.
 */

import { severityOfRecord } from "../cvss.js";
import type { OsvAffected, OsvRecord } from "../osv/schema.js";
import { relatedIds } from "../osv/schema.js";
import { ecosystemParts, packageKey } from "./ecosystem-key.js";

export interface AdvisoryEntry {
  /** OSV id. */
  id: string;
  aliases: string[];
  modified: string;
  /** Highest CVSS base score over the record (see severityOfRecord); nulls when it has none. */
  severity: { score: number | null; vector: string | null; version: string | null };
  /** One affected[] entry of the record. */
  affected: OsvAffected;
  /** Canonical OSV base name: "Debian", "npm", "AlmaLinux" (an unknown base as written). */
  ecosystem: string;
  /** "12" of "Debian:12"; "" when the advisory names no release. */
  ecosystemRelease: string;
  /** affected.package.name. */
  name: string;
}

/**
 * One entry per affected[] entry of the record. Entries whose only ranges are GIT ranges are kept:
 * they never match, and the matcher counts the ranges it skips.
 */
export function entriesOf(record: OsvRecord): AdvisoryEntry[] {
  const affected = record.affected ?? [];
  if (affected.length === 0) return [];
  // Scored once per record: every entry of the record shares it.
  const { score, vector, version } = severityOfRecord(record);
  const aliases = relatedIds(record);
  return affected.map((entry) => {
    const parts = ecosystemParts(entry.package.ecosystem);
    return {
      id: record.id,
      aliases,
      modified: record.modified,
      severity: { score, vector, version },
      affected: entry,
      ecosystem: parts.base,
      ecosystemRelease: parts.release,
      name: entry.package.name,
    };
  });
}

/** Later `modified` wins; equal timestamps keep the first record read. */
function isNewer(a: OsvRecord, b: OsvRecord): boolean {
  return Date.parse(a.modified) > Date.parse(b.modified);
}

export class AdvisoryIndex {
  readonly #byKey = new Map<string, AdvisoryEntry[]>();
  #size = 0;

  /**
   * An index of the records. Withdrawn records are left out; when an id appears more than once (the
   * same database read twice, an export and a newer file) the latest `modified` wins.
   */
  static fromRecords(records: Iterable<OsvRecord>): AdvisoryIndex {
    const latest = new Map<string, OsvRecord>();
    for (const record of records) {
      const seen = latest.get(record.id);
      if (seen === undefined || isNewer(record, seen)) latest.set(record.id, record);
    }
    const index = new AdvisoryIndex();
    for (const record of latest.values()) {
      if (record.withdrawn !== undefined) continue;
      for (const entry of entriesOf(record)) index.add(entry);
    }
    return index;
  }

  add(entry: AdvisoryEntry): void {
    const key = packageKey(entry.ecosystem, entry.name);
    const list = this.#byKey.get(key);
    if (list === undefined) this.#byKey.set(key, [entry]);
    else list.push(entry);
    this.#size += 1;
  }

  /**
   * Entries that could affect a package of this ecosystem (as the package names it, e.g. "Debian:12")
   * and name: those of the same canonical ecosystem and name whose release is the package's or none.
   */
  candidates(ecosystem: string, name: string): AdvisoryEntry[] {
    const parts = ecosystemParts(ecosystem);
    const list = this.#byKey.get(packageKey(parts.base, name));
    if (list === undefined) return [];
    return list.filter((e) => e.ecosystemRelease === "" || e.ecosystemRelease === parts.release);
  }

  /** Number of entries (affected[] entries, not records). */
  get size(): number {
    return this.#size;
  }
}
