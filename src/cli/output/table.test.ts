import { describe, expect, it } from "vitest";
import { type Column, fitWidths, renderTable } from "./table.js";

interface Row {
  id: string;
  name: string;
  detail: string;
}

const COLUMNS: Column<Row>[] = [
  { header: "ID", value: (r) => r.id, keep: true },
  { header: "NAME", value: (r) => r.name },
  { header: "DETAIL", value: (r) => r.detail, wide: true },
];

const rows: Row[] = [
  { id: "0190f5c2-7d1e-7000-8000-000000000001", name: "x".repeat(120), detail: "only wide" },
];

describe("renderTable", () => {
  it("fits 100 columns, cuts the long cell with an ellipsis and never an id", () => {
    const text = renderTable(rows, COLUMNS, { wide: false, width: 100 });
    for (const line of text.trimEnd().split("\n")) expect(line.length).toBeLessThanOrEqual(100);
    expect(text).toContain(rows[0]?.id);
    expect(text).toContain("…");
    expect(text).not.toContain("DETAIL");
  });

  it("shows every column, uncut, under -o wide", () => {
    const text = renderTable(rows, COLUMNS, { wide: true });
    expect(text).toContain("DETAIL");
    expect(text).toContain("x".repeat(120));
  });
});

describe("fitWidths", () => {
  it("takes from the widest column first and keeps floors", () => {
    expect(fitWidths([10, 50, 20], [10, 6, 6], 60)).toEqual([10, 20, 20]);
    expect(fitWidths([10, 8], [10, 8], 5)).toEqual([10, 8]);
  });
});
