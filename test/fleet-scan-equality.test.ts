import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listFindings } from "../src/advisories/findings/query.js";
import { rematchAll } from "../src/advisories/findings/rematch.js";
import { importParsedRecords } from "../src/advisories/ingest/import-batch.js";
import { AdvisoryIndex } from "../src/advisories/matching/advisory-index.js";
import { readOsvSource } from "../src/advisories/osv/read.js";
import type { OsvRecord } from "../src/advisories/osv/schema.js";
import { scanPackages } from "../src/advisories/scan/findings.js";
import { SYSTEM_ACTOR } from "../src/domain/roles.js";
import { importInventory } from "../src/inventory/import.js";
import { parseInventory } from "../src/inventory/importers/index.js";
import { DEFAULT_POLICY } from "../src/policy/default-policy.js";
import type { ServiceContext } from "../src/service/context.js";
import { contextFor, DIALECTS, freshStore } from "./helpers/stores.js";

const DATA = join(import.meta.dirname, "fixtures", "data");
const SBOMS = ["cyclonedx", "spdx"].flatMap((dir) =>
  readdirSync(join(DATA, "sbom", dir))
    .filter((f) => f.endsWith(".json"))
    .map((f) => join("sbom", dir, f)),
);
const DEBIAN_STATUS = join("dpkg", "debian12-bookworm-node-image.status");
const INVENTORIES = [...SBOMS, DEBIAN_STATUS];

function parsed(file: string) {
  const content = readFileSync(join(DATA, file), "utf8");
  return {
    content,
    options: file === DEBIAN_STATUS ? ({ format: "dpkg", ecosystem: "Debian:12" } as const) : ({} as const),
  };
}

/** What both paths must agree on, one line per finding: package, installed version, vulnerability, fix. */
type Line = string;

function scanLines(file: string, index: AdvisoryIndex): Line[] {
  const { content, options } = parsed(file);
  const inv = parseInventory(content, { ...options, file });
  const lines = scanPackages(inv.packages, index, { policy: DEFAULT_POLICY }).findings.map(
    (f) => `${f.package.ecosystem} ${f.package.name} ${f.package.version} ${f.vulnId} ${f.fixed ?? "-"}`,
  );
  return [...new Set(lines)].sort();
}

async function fleetLines(ctx: ServiceContext, asset: string): Promise<Line[]> {
  const lines: Line[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await listFindings(ctx, { asset, limit: 1000, ...(after === undefined ? {} : { after }) });
    for (const f of page.findings)
      lines.push(`${f.ecosystem} ${f.package} ${f.installedVersion} ${f.vulnId} ${f.fixedVersion ?? "-"}`);
    if (page.next === null) break;
    after = page.next;
  }
  return lines.sort();
}

let records: OsvRecord[] = [];
let index: AdvisoryIndex;

beforeAll(async () => {
  const out: OsvRecord[] = [];
  for await (const item of readOsvSource(join(DATA, "osv")))
    if (item.record !== undefined) out.push(item.record);
  records = out;
  index = AdvisoryIndex.fromRecords(records);
});

describe.each(DIALECTS)("fleet findings equal the offline scan's (%s)", (dialect) => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let ctx: ServiceContext;
  beforeAll(async () => {
    store = await freshStore(dialect);
    ctx = contextFor(store);
    await importParsedRecords(ctx, SYSTEM_ACTOR, records, "osv-fixtures");
    for (const file of INVENTORIES) {
      const { content, options } = parsed(file);
      await importInventory(ctx, SYSTEM_ACTOR, { asset: assetName(file), content, file, ...options });
    }
  }, 240_000);
  afterAll(async () => store.dispose());

  it("the Juice Shop SBOM gets the scan's 12 findings, one per affected installed version", async () => {
    const file = join("sbom", "cyclonedx", "juice-shop-14.1.1.npm.cdx-1.4.json");
    const scan = scanLines(file, index);
    expect(scan).toHaveLength(12);
    expect(await fleetLines(ctx, assetName(file))).toEqual(scan);
  });

  it.each(INVENTORIES)("%s: as an inventory report, and after a full re-match", async (file) => {
    const scan = scanLines(file, index);
    expect(await fleetLines(ctx, assetName(file))).toEqual(scan);
    await rematchAll(ctx);
    expect(await fleetLines(ctx, assetName(file))).toEqual(scan);
  });
});

function assetName(file: string): string {
  return file
    .split("/")
    .at(-1)
    ?.replace(/[^A-Za-z0-9._-]/g, "-")
    .slice(0, 60) as string;
}
