import type { Command } from "commander";
import { listAll } from "../../client/list-all.js";
import { reasonError, ValidationError } from "../../domain/errors.js";
import type { Asset } from "../../domain/inventory.js";
import type { AssetWithPackages } from "../../inventory/assets.js";
import { type ClientFlags, clientFrom, parseDurationFlag, withClientFlags } from "../common.js";
import { paintState } from "../output/color.js";
import { formatAge, formatTime, formatWhen } from "../output/time.js";
import { printFields, printJson, printTable } from "../output.js";

/** Older servers send no missingRelease. */
const missingText = (missing: readonly string[] | undefined) =>
  missing && missing.length > 0 ? `missing (${missing.join(", ")})` : "";

const labelsText = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");

export function registerAssetsCommand(program: Command): void {
  const assets = program.command("assets").description("List, inspect, label and re-enroll assets");

  withClientFlags(
    assets
      .command("list")
      .description(
        "List assets; filter with a label selector, e.g. 'environment=prod,group in (web,api),!canary'",
      )
      .option("-l, --selector <selector>", "label selector"),
  ).action(async (flags: ClientFlags & { selector?: string }) => {
    const list = await listAll(clientFrom(flags), "/api/v1/assets", { query: { selector: flags.selector } });
    if (flags.json) return printJson(list);
    printTable(list, [
      { header: "NAME", value: (a) => a.name },
      { header: "KIND", value: (a) => a.kind },
      { header: "ENV", value: (a) => a.environment },
      { header: "GROUP", value: (a) => a.group },
      { header: "REGION", value: (a) => a.region },
      { header: "CRIT", value: (a) => a.criticality },
      { header: "AGENT", value: (a) => a.agentStatus, paint: paintState },
      { header: "LAST SEEN", value: (a) => (a.lastSeen ? formatAge(a.lastSeen) : "never") },
      { header: "LAST SEEN AT", value: (a) => formatTime(a.lastSeen), wide: true },
      { header: "OWNER", value: (a) => a.owner, wide: true },
      { header: "LABELS", value: (a) => labelsText(a.labels), wide: true },
      { header: "RELEASE", value: (a) => missingText(a.missingRelease), wide: true },
    ]);
    const missing = list.filter((a) => (a.missingRelease ?? []).length > 0).length;
    if (missing > 0) {
      process.stderr.write(
        `warning: ${missing} asset${missing === 1 ? "" : "s"} report Debian or Ubuntu packages without a release: ` +
          "only advisories without a release apply to them (give the agent root an os-release, or import with --ecosystem Debian:12)\n",
      );
    }
  });

  withClientFlags(
    assets.command("show <name>").description("Show one asset and its installed packages"),
  ).action(async (name: string, flags: ClientFlags) => {
    const asset = await clientFrom(flags).get<AssetWithPackages>(
      `/api/v1/assets/${encodeURIComponent(name)}`,
    );
    if (flags.json) return printJson(asset);
    printFields([
      ["name", asset.name],
      ["kind", asset.kind],
      ["environment", asset.environment],
      ["group", asset.group],
      ["region", asset.region],
      ["owner", asset.owner],
      ["criticality", String(asset.criticality)],
      ["labels", labelsText(asset.labels)],
      ["agent", asset.agentStatus],
      ["last seen", asset.lastSeen ? formatWhen(asset.lastSeen) : "never"],
      ["packages", String(asset.packages.length)],
      ...(missingText(asset.missingRelease)
        ? [["release", missingText(asset.missingRelease)] as [string, string]]
        : []),
    ]);
    printTable(
      asset.packages,
      [
        { header: "ECOSYSTEM", value: (p) => p.ecosystem },
        { header: "NAME", value: (p) => p.name },
        { header: "VERSION", value: (p) => p.version },
        { header: "ARCH", value: (p) => p.arch },
        {
          header: "SOURCE",
          value: (p) =>
            p.sourceName && p.sourceName !== p.name ? `${p.sourceName} ${p.sourceVersion ?? ""}` : "",
        },
      ],
      { empty: "no packages reported" },
    );
  });

  withClientFlags(
    assets
      .command("label <name> <changes...>")
      .description(
        "Set labels with key=value and remove them with key- (as kubectl label does); changing a label's value needs --overwrite",
      )
      .option("--overwrite", "allow changing the value of a label the asset already has"),
  ).action(async (name: string, changes: string[], flags: ClientFlags & { overwrite?: boolean }) => {
    const set: Record<string, string> = {};
    const remove: string[] = [];
    for (const change of changes) {
      if (change.endsWith("-") && !change.includes("=")) remove.push(change.slice(0, -1));
      else if (change.indexOf("=") > 0)
        set[change.slice(0, change.indexOf("="))] = change.slice(change.indexOf("=") + 1);
      else throw new ValidationError(`"${change}" is neither key=value nor key-`, { where: change });
    }
    const client = clientFrom(flags);
    if (!flags.overwrite) {
      // As kubectl does: a label that exists keeps its value unless --overwrite says otherwise.
      const current = await client.get<AssetWithPackages>(`/api/v1/assets/${encodeURIComponent(name)}`);
      const clash = Object.entries(set).filter(([k, v]) => k in current.labels && current.labels[k] !== v);
      if (clash.length > 0) {
        throw reasonError(
          "cli.label-exists",
          `${current.name} already has ${clash.map(([k]) => `${k}=${current.labels[k]}`).join(", ")}: pass --overwrite to change it`,
          { where: clash.map(([k, v]) => `${k}=${v}`).join(" ") },
        );
      }
    }
    const asset = await client.patch<Asset>(`/api/v1/assets/${encodeURIComponent(name)}`, {
      labels: { set, remove },
    });
    if (flags.json) return printJson(asset);
    process.stdout.write(`${asset.name}: ${labelsText(asset.labels) || "(no labels)"}\n`);
  });

  withClientFlags(
    assets
      .command("update <name>")
      .description("Change an asset's owner, criticality or placement")
      .option("--owner <owner>")
      .option("--criticality <1-5>")
      .option("--environment <env>")
      .option("--group <group>")
      .option("--region <region>")
      .option("--kind <kind>"),
  ).action(async (name: string, flags: ClientFlags & Record<string, string | undefined>) => {
    const patch: Record<string, string | number> = {};
    for (const key of ["owner", "environment", "group", "region", "kind"]) {
      const value = flags[key];
      if (value !== undefined) patch[key] = value;
    }
    if (flags.criticality !== undefined) patch.criticality = Number(flags.criticality);
    const asset = await clientFrom(flags).patch<Asset>(`/api/v1/assets/${encodeURIComponent(name)}`, patch);
    if (flags.json) return printJson(asset);
    process.stdout.write(`updated ${asset.name}\n`);
  });

  withClientFlags(
    assets.command("delete <name>").description("Delete an asset and its inventory (admin)"),
  ).action(async (name: string, flags: ClientFlags) => {
    await clientFrom(flags).delete(`/api/v1/assets/${encodeURIComponent(name)}`);
    if (flags.json) return printJson({ deleted: name });
    process.stdout.write(`deleted ${name}\n`);
  });

  withClientFlags(
    assets
      .command("reenroll <name>")
      .description(
        "Allow one agent to enroll as this existing asset, e.g. a reinstalled host (admin). Single-use; " +
          "the asset keeps its placement and inventory, and its previous agent credential is revoked.",
      )
      .option("--ttl <duration>", "how long the allowance lasts (default 24h, at most 7d)"),
  ).action(async (name: string, flags: ClientFlags & { ttl?: string }) => {
    const allowed = await clientFrom(flags).post<{ id: string; asset: string; expiresAt: string }>(
      `/api/v1/assets/${encodeURIComponent(name)}/reenroll`,
      flags.ttl ? { ttlSeconds: Math.ceil(parseDurationFlag(flags.ttl, "--ttl") / 1000) } : {},
    );
    if (flags.json) return printJson(allowed);
    process.stdout.write(`one agent may enroll as ${allowed.asset} until ${allowed.expiresAt}\n`);
  });
}
