import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32, deflateRawSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OsvSourceItem, readOsvSource } from "./read.js";

const DATA = fileURLToPath(new URL("../../../test/fixtures/data/", import.meta.url));

/**
 * A zip archive in the smallest form yauzl reads (local headers, central directory, end record); no
 * zip-writing library is installed. Entries are deflated unless `stored`.
 */
function zip(entries: Array<{ name: string; text: string; stored?: boolean }>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const { name, text, stored } of entries) {
    const raw = Buffer.from(text);
    const data = stored ? raw : deflateRawSync(raw);
    const fileName = Buffer.from(name);
    const fields = (h: Buffer, at: number) => {
      h.writeUInt16LE(20, at); // version needed
      h.writeUInt16LE(0, at + 2); // flags
      h.writeUInt16LE(stored ? 0 : 8, at + 4); // method
      h.writeUInt32LE(0x00210000, at + 6); // DOS time and date (1980-01-01)
      h.writeUInt32LE(crc32(raw), at + 10);
      h.writeUInt32LE(data.length, at + 14);
      h.writeUInt32LE(raw.length, at + 18);
      h.writeUInt16LE(fileName.length, at + 22);
    };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    fields(local, 4);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4); // version made by
    fields(central, 6);
    central.writeUInt32LE(offset, 42);
    locals.push(local, fileName, data);
    centrals.push(central, fileName);
    offset += local.length + fileName.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

async function collect(path: string): Promise<OsvSourceItem[]> {
  const items: OsvSourceItem[] = [];
  for await (const item of readOsvSource(path)) items.push(item);
  return items;
}

const record = (id: string) => ({ id, modified: "2024-01-01T00:00:00Z", affected: [] });
const json = (v: unknown) => JSON.stringify(v);

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "osv-read-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("readOsvSource", () => {
  it("reads a JSONL file line by line, locating a bad record and bad JSON and going on", async () => {
    const path = join(dir, "mixed.jsonl");
    await writeFile(
      path,
      [json(record("A-1")), "", json({ id: "A-2" }), '{"id": "A-3",, }', json(record("A-4"))].join("\n"),
    );
    const items = await collect(path);
    expect(items.map((i) => i.location)).toEqual([`${path}:1`, `${path}:3`, `${path}:4`, `${path}:5`]);
    expect(items.map((i) => i.record?.id ?? null)).toEqual(["A-1", null, null, "A-4"]);
    expect(items[1]?.error?.where).toBe(`${path}:3#/modified`);
    expect(items[2]?.error?.where).toBe(`${path}:4:14`);
  });

  it("reads a JSON file with one record and one with an array of records", async () => {
    const one = join(dir, "one.json");
    const many = join(dir, "many.json");
    await writeFile(one, json(record("B-1")));
    await writeFile(many, json([record("B-2"), { id: "B-3", modified: "yesterday" }, record("B-4")]));
    expect((await collect(one)).map((i) => [i.location, i.record?.id])).toEqual([[one, "B-1"]]);
    const items = await collect(many);
    expect(items.map((i) => i.record?.id ?? i.error?.where)).toEqual(["B-2", `${many}#/1/modified`, "B-4"]);
    expect(items[1]?.location).toBe(`${many}#/1`);
  });

  it("reports invalid JSON in a pretty-printed file with its line and column", async () => {
    const path = join(dir, "broken.json");
    await writeFile(path, '{\n  "id": "C-1",\n  "modified": "2024-01-01T00:00:00Z"\n  "affected": []\n}\n');
    const [item, ...rest] = await collect(path);
    expect(rest).toEqual([]);
    expect(item?.error?.code).toBe("validation");
    expect(item?.error?.where).toBe(`${path}:4:3`);
  });

  it("walks a directory recursively, reading .json and .jsonl and nothing else", async () => {
    const root = join(dir, "tree");
    await mkdir(join(root, "a", "b"), { recursive: true });
    await writeFile(join(root, "a", "b", "x.json"), json(record("D-1")));
    await writeFile(join(root, "a", "y.jsonl"), `${json(record("D-2"))}\n${json(record("D-3"))}\n`);
    await writeFile(join(root, "z.json"), json(record("D-4")));
    await writeFile(join(root, "README.md"), "# not a record");
    const items = await collect(root);
    expect(items.map((i) => i.record?.id)).toEqual(["D-1", "D-2", "D-3", "D-4"]);
  });

  it("streams a zip archive in osv.dev's layout, one record per entry", async () => {
    const path = join(dir, "all.zip");
    await writeFile(
      path,
      zip([
        { name: "E-1.json", text: json(record("E-1")) },
        { name: "E-2.json", text: json(record("E-2")), stored: true },
        { name: "E-3.json", text: json({ ...record("E-3"), affected: [{ package: { name: "x" } }] }) },
        { name: "E-4.json", text: "{ nope" },
        { name: "notes.txt", text: "skipped" },
        { name: "E-5.json", text: json(record("E-5")) },
      ]),
    );
    const items = await collect(path);
    expect(items.map((i) => i.location)).toEqual(
      ["E-1", "E-2", "E-3", "E-4", "E-5"].map((n) => `${path}!${n}.json`),
    );
    expect(items.map((i) => i.record?.id ?? null)).toEqual(["E-1", "E-2", null, null, "E-5"]);
    expect(items[2]?.error?.where).toBe(`${path}!E-3.json#/affected/0/package/ecosystem`);
    expect(items[3]?.error?.where).toBe(`${path}!E-4.json:1:3`);
  });

  it("reads the real fixture files: 1,206 RUSTSEC records and the Ubuntu USN", async () => {
    const items = await collect(`${DATA}osv/rustsec-crates.jsonl`);
    expect(items).toHaveLength(1206);
    expect(items.every((i) => i.record !== undefined)).toBe(true);
    const [usn] = await collect(`${DATA}osv/ubuntu-USN-2169-1.json`);
    expect(usn?.record?.id).toBe("USN-2169-1");
  });

  it("throws for a missing path, an unknown file type and a file that is not a zip", async () => {
    await expect(collect(join(dir, "absent.json"))).rejects.toMatchObject({ code: "not_found" });
    const txt = join(dir, "x.txt");
    await writeFile(txt, "x");
    await expect(collect(txt)).rejects.toMatchObject({ code: "validation" });
    const fake = join(dir, "fake.zip");
    await writeFile(fake, "not a zip");
    await expect(collect(fake)).rejects.toMatchObject({ code: "validation", where: fake });
  });
});
