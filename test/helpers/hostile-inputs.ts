/** Inputs a hostile or careless user sends, built in code so the tests show their shape. */

/** Nine levels of nine aliases each: a few lines of YAML that expand to 9^9 strings ("billion laughs"). */
export function aliasBomb(name = "bomb"): string {
  const names = "abcdefghi";
  const lines = [`  a: &a [${Array(9).fill('"lol"').join(", ")}]`];
  for (let i = 1; i < names.length; i++) {
    lines.push(
      `  ${names[i]}: &${names[i]} [${Array(9)
        .fill(`*${names[i - 1]}`)
        .join(", ")}]`,
    );
  }
  return `name: ${name}\ndescription:\n${lines.join("\n")}\n`;
}

/** A CycloneDX 1.5 SBOM whose components each hold the next, `depth` levels down. */
export function nestedCycloneDx(depth: number): string {
  // Written as text: JSON.stringify recurses and would overflow the stack on the deepest of these.
  const open = '{"name":"c","components":['.repeat(depth - 1);
  const leaf = '{"name":"leaf","version":"1","purl":"pkg:npm/leaf@1"}';
  return `{"bomFormat":"CycloneDX","specVersion":"1.5","components":[${open}${leaf}${"]}".repeat(depth - 1)}]}`;
}

/** JSON text of `{"a":{"a":…"x"}}`, `depth` objects deep. */
export function nestedObjects(depth: number): string {
  return `${'{"a":'.repeat(depth)}"x"${"}".repeat(depth)}`;
}
