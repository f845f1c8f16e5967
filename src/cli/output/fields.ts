/** Prints `key: value` lines for one object. */
export function printFields(fields: ReadonlyArray<readonly [string, unknown]>): void {
  const width = Math.max(...fields.map(([k]) => k.length));
  for (const [k, v] of fields) {
    const text = typeof v === "string" ? v : v === null || v === undefined ? "" : JSON.stringify(v);
    process.stdout.write(`${`${k}:`.padEnd(width + 2)}${text}\n`);
  }
}
