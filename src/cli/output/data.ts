import { stringify } from "yaml";
import { outputSettings } from "./settings.js";

/**
 * Prints a value for scripts on stdout, as JSON or, under `-o yaml`, as YAML; nothing else goes to
 * stdout then.
 */
export function printData(value: unknown): void {
  if (outputSettings().format === "yaml") {
    process.stdout.write(stringify(value ?? null, { aliasDuplicateObjects: false }));
    return;
  }
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
