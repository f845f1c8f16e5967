#!/usr/bin/env node
// Adds Biome's platform packages that the registry does not serve to package-lock.json, so that
// `npm ci` accepts the lock file. They are optional and never installed on other platforms than
// their own, so npm needs only their names, versions and os/cpu/libc. Run after changing dependencies.
import { readFileSync, writeFileSync } from "node:fs";

const PLATFORMS = {
  "android-arm64": { os: ["android"], cpu: ["arm64"] },
  "android-x64": { os: ["android"], cpu: ["x64"] },
  "darwin-arm64": { os: ["darwin"], cpu: ["arm64"] },
  "darwin-x64": { os: ["darwin"], cpu: ["x64"] },
  "linux-arm64": { os: ["linux"], cpu: ["arm64"], libc: ["glibc"] },
  "linux-arm64-musl": { os: ["linux"], cpu: ["arm64"], libc: ["musl"] },
  "linux-x64": { os: ["linux"], cpu: ["x64"], libc: ["glibc"] },
  "linux-x64-musl": { os: ["linux"], cpu: ["x64"], libc: ["musl"] },
  "win32-arm64": { os: ["win32"], cpu: ["arm64"] },
  "win32-x64": { os: ["win32"], cpu: ["x64"] },
};

const file = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(file, "utf8"));
const biome = lock.packages["node_modules/@biomejs/biome"];
const added = [];
for (const [platform, constraints] of Object.entries(PLATFORMS)) {
  const key = `node_modules/@biomejs/cli-${platform}`;
  if (lock.packages[key]) continue;
  lock.packages[key] = {
    version: biome.version,
    dev: true,
    optional: true,
    license: "MIT OR Apache-2.0",
    engines: { node: ">=14.21.3" },
    ...constraints,
  };
  added.push(key);
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : 1)),
);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(added.length ? `added ${added.join(", ")}` : "package-lock.json is complete");
