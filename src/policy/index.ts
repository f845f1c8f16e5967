/** The policy module's public surface: schema, loader, built-in policy, calendar and rule helpers. */
export * from "./calendar.js";
export * from "./default-policy.js";
export * from "./duration.js";
export * from "./loader.js";
export {
  formatInZone,
  isValidZone,
  localToInstant,
  parseLocalDateTime,
  shiftLocalDays,
} from "./local-time.js";
export { loadPolicyFile, readPolicyText } from "./policy-file.js";
export * from "./rules.js";
export * from "./schema.js";
