import { SingleBar } from "cli-progress";
import type { Command } from "commander";
import { pino } from "pino";
import type { FindingExplanation } from "../../advisories/findings/explain.js";
import type { Finding } from "../../advisories/findings/finding.js";
import type { FindingsDelta } from "../../advisories/findings/rematch.js";
import { VEX_JUSTIFICATIONS } from "../../advisories/findings/vex.js";
import type { VulnerabilityView } from "../../advisories/findings/vulnerability.js";
import { ValidationError } from "../../domain/errors.js";
import { type ClientFlags, clientFrom, withClientFlags } from "../common.js";
import { paintClass, paintOverdue, paintState } from "../output/color.js";
import { formatAge, formatTime, formatWhen } from "../output/time.js";
import { printFields, printJson, printTable } from "../output.js";

interface ListFlags extends ClientFlags {
  class?: string;
  status?: string;
  selector?: string;
  overdue?: boolean;
  vuln?: string;
  asset?: string;
  limit: string;
  after?: string;
  all?: boolean;
}

interface SuppressFlags extends ClientFlags {
  expires?: string;
  reviewBy?: string;
}

/** The suppression's end as the API takes it; the server says when neither or both are given. */
function untilBody(flags: SuppressFlags): { expiresAt?: string; reviewBy?: string } {
  return {
    ...(flags.expires === undefined ? {} : { expiresAt: flags.expires }),
    ...(flags.reviewBy === undefined ? {} : { reviewBy: flags.reviewBy }),
  };
}

const enc = encodeURIComponent;
const signed = (n: number) => `${n >= 0 ? "+" : "−"}${Math.abs(n).toFixed(1)}`;

function findingRows(findings: readonly Finding[]): void {
  printTable(findings, [
    { header: "ID", value: (f) => f.id, keep: true },
    { header: "ASSET", value: (f) => f.asset.name },
    { header: "PACKAGE", value: (f) => (f.arch ? `${f.package}:${f.arch}` : f.package) },
    { header: "INSTALLED", value: (f) => f.installedVersion, wide: true },
    { header: "VULNERABILITY", value: (f) => f.vulnId },
    { header: "FIXED", value: (f) => f.fixedVersion ?? "no fix yet", wide: true },
    { header: "SCORE", value: (f) => f.riskScore.toFixed(1), wide: true },
    { header: "CLASS", value: (f) => f.class, paint: paintClass },
    {
      header: "DUE",
      value: (f) =>
        f.dueAt === null ? "" : f.overdue ? `overdue ${formatAge(f.dueAt)}` : formatAge(f.dueAt),
      paint: (t, f) => (f.overdue ? paintOverdue(t) : t),
    },
    { header: "DUE AT", value: (f) => formatTime(f.dueAt), wide: true },
    { header: "STATUS", value: (f) => f.status, paint: paintState, wide: true },
  ]);
}

/** A progress bar on stderr when it is a terminal; nothing otherwise (and never with --json). */
function progressBar(enabled: boolean): { update(done: number, total: number): void; stop(): void } {
  if (!enabled) return { update: () => {}, stop: () => {} };
  const bar = new SingleBar({
    stream: process.stderr,
    format: "re-matching [{bar}] {percentage}% | {value}/{total} | {duration_formatted}",
    barsize: 30,
    hideCursor: true,
  });
  let running = false;
  return {
    update: (done, total) => {
      if (!running) {
        running = true;
        bar.start(total, done);
      }
      bar.setTotal(total);
      bar.update(done);
    },
    stop: () => {
      if (running) bar.stop();
    },
  };
}

/** Runs a full re-match straight on a store (no server), with progress. */
async function rematchOnStore(url: string, showProgress: boolean): Promise<FindingsDelta> {
  const [{ openStore }, { rematchAll }, { serviceContext }, { SYSTEM_ACTOR }] = await Promise.all([
    import("../../store/store.js"),
    import("../../advisories/findings/rematch.js"),
    import("../../service/context.js"),
    import("../../domain/roles.js"),
  ]);
  const store = await openStore(url);
  const bar = progressBar(showProgress);
  try {
    return await rematchAll(serviceContext(store, pino({ level: "silent" })), {
      actor: SYSTEM_ACTOR,
      onProgress: (done, total) => bar.update(done, total),
    });
  } finally {
    bar.stop();
    await store.close();
  }
}

export function registerFindingsCommands(program: Command): void {
  const findings = program
    .command("findings")
    .description("Vulnerability findings: list, explain, accept a risk, mark not affected, reopen, re-match");

  withClientFlags(
    findings
      .command("list")
      .description(
        "List findings, highest risk first (unresolved ones unless --status says otherwise).\n" +
          "Filter by class, status, an asset label selector, overdue, a vulnerability id or alias, or an asset.",
      )
      .option("--class <class>", "emergency, high or routine")
      .option("--status <status>", "open, fixed, accepted-risk, not-affected or all")
      .option("-l, --selector <selector>", "asset label selector, e.g. 'environment=prod,group in (web,api)'")
      .option("--overdue", "only open findings past their due date")
      .option("--vuln <id>", "a vulnerability: CVE, advisory id or any alias")
      .option("--asset <name>", "one asset")
      .option("--limit <n>", "findings per page (max 1000)", "100")
      .option("--after <cursor>", "continue after a page (its `next`)")
      .option("--all", "follow pages to the end"),
  ).action(async (flags: ListFlags) => {
    const limit = Number(flags.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new ValidationError("--limit takes a whole number from 1 to 1000", { where: "--limit" });
    const client = clientFrom(flags);
    const all: Finding[] = [];
    let after = flags.after;
    let next: string | null = null;
    do {
      const query = new URLSearchParams();
      for (const key of ["class", "status", "selector", "vuln", "asset"] as const) {
        const value = flags[key];
        if (value !== undefined) query.set(key, value);
      }
      if (flags.overdue) query.set("overdue", "true");
      query.set("limit", String(limit));
      if (after) query.set("cursor", after);
      const page = await client.get<{ items: Finding[]; next: string | null }>(`/api/v1/findings?${query}`);
      all.push(...page.items);
      next = page.next;
      after = next ?? undefined;
    } while (flags.all && next);
    if (flags.json) return printJson({ findings: all, next });
    findingRows(all);
    if (next) process.stderr.write(`more findings: --all, or --after ${next}\n`);
  });

  withClientFlags(
    findings
      .command("explain <id>")
      .description("Why a finding has its score, class and due date: each risk factor with its effect"),
  ).action(async (id: string, flags: ClientFlags) => {
    const e = await clientFrom(flags).get<FindingExplanation>(`/api/v1/findings/${enc(id)}/explain`);
    if (flags.json) return printJson(e);
    const f = e.finding;
    printFields([
      ["finding", f.id],
      ["asset", f.asset.name],
      ["package", `${f.package} ${f.installedVersion}${f.arch ? ` (${f.arch})` : ""}`],
      [
        "vulnerability",
        `${f.vulnId}${f.aliases.length > 1 ? ` (${f.aliases.filter((a) => a !== f.vulnId).join(", ")})` : ""}`,
      ],
      ["fixed in", f.fixedVersion ?? "no fix yet"],
      ["status", f.statusReason ? `${f.status}: ${f.statusReason}` : f.status],
    ]);
    process.stdout.write("\nrisk factors:\n");
    const width = Math.max(...e.factors.map((x) => x.name.length));
    for (const factor of e.factors) {
      process.stdout.write(
        `  ${factor.name.padEnd(width)}  ${signed(factor.effect).padStart(6)}  ${factor.explanation}\n`,
      );
    }
    process.stdout.write(`  ${"score".padEnd(width)}  ${e.score.toFixed(1).padStart(6)}\n`);
    if (e.storedScore !== e.score) {
      process.stdout.write(
        `  (stored ${e.storedScore.toFixed(1)}: the asset changed since the last match)\n`,
      );
    }
    process.stdout.write(`\nclass: ${e.classRule}\ndue:   ${formatWhen(e.due.at)} (${e.due.rule})\n`);
  });

  withClientFlags(
    findings
      .command("accept-risk <id>")
      .description(
        "Accept a finding's risk with a reason, until an expiry or a review date (approvers and admins; at most a year)",
      )
      .requiredOption("--reason <text>", "why the risk is acceptable")
      .option("--expires <when>", "ISO 8601 time (2027-01-31) or a duration such as 30d: it ends then")
      .option("--review-by <when>", "ISO 8601 time or a duration: the finding opens again then for a review"),
  ).action(async (id: string, flags: SuppressFlags & { reason: string }) => {
    const f = await clientFrom(flags).post<Finding>(`/api/v1/findings/${enc(id)}/accept-risk`, {
      reason: flags.reason,
      ...untilBody(flags),
    });
    if (flags.json) return printJson(f);
    process.stdout.write(`${f.id}: accepted-risk until ${formatTime(f.statusExpiresAt)}\n`);
  });

  withClientFlags(
    findings
      .command("not-affected <id>")
      .description(
        "State that a finding does not apply (approvers and admins), with a VEX justification, a statement,\n" +
          `and an expiry or a review date. Justifications: ${VEX_JUSTIFICATIONS.join(", ")}`,
      )
      .requiredOption("--justification <code>", "one of the VEX justifications above")
      .requiredOption("--statement <text>", "why it holds here")
      .option("--expires <when>", "ISO 8601 time (2027-01-31) or a duration such as 90d: it ends then")
      .option("--review-by <when>", "ISO 8601 time or a duration: the finding opens again then for a review"),
  ).action(async (id: string, flags: SuppressFlags & { justification: string; statement: string }) => {
    const f = await clientFrom(flags).post<Finding>(`/api/v1/findings/${enc(id)}/not-affected`, {
      justification: flags.justification,
      statement: flags.statement,
      ...untilBody(flags),
    });
    if (flags.json) return printJson(f);
    process.stdout.write(
      `${f.id}: not-affected until ${formatTime(f.statusExpiresAt)} (${f.statusReason})\n`,
    );
  });

  withClientFlags(
    findings
      .command("reopen <id>")
      .description("Reopen an accepted or not-affected finding")
      .requiredOption("--reason <text>", "why"),
  ).action(async (id: string, flags: ClientFlags & { reason: string }) => {
    const f = await clientFrom(flags).post<Finding>(`/api/v1/findings/${enc(id)}/reopen`, {
      reason: flags.reason,
    });
    if (flags.json) return printJson(f);
    process.stdout.write(`${f.id}: open\n`);
  });

  withClientFlags(
    findings
      .command("rematch")
      .description(
        "Re-match the whole fleet against every stored advisory and print what changed.\n" +
          "--database runs it straight on a store with a progress bar; otherwise the server runs it.",
      )
      .option("--database <url>", "re-match this store directly instead of asking the server"),
  ).action(async (flags: ClientFlags & { database?: string }) => {
    let delta: FindingsDelta;
    if (flags.database) {
      delta = await rematchOnStore(flags.database, !flags.json && process.stderr.isTTY === true);
    } else {
      if (!flags.json && process.stderr.isTTY)
        process.stderr.write("re-matching the fleet on the server …\n");
      delta = await clientFrom(flags).post<FindingsDelta>("/api/v1/findings/rematch");
    }
    if (flags.json) return printJson(delta);
    process.stdout.write(
      `opened ${delta.opened}, updated ${delta.updated}, reopened ${delta.reopened}, fixed ${delta.fixed}, ` +
        `unchanged ${delta.unchanged} (${delta.packages} package versions evaluated)\n`,
    );
  });

  const vulnerabilities = program
    .command("vulnerabilities")
    .description("Vulnerabilities across the fleet: which assets have one");
  withClientFlags(
    vulnerabilities
      .command("show <id>")
      .description(
        "Which assets have a vulnerability, by CVE, advisory id or any alias; its advisories, KEV and EPSS.\n" +
          "Shows the totals and the first page of its findings; --all follows the pages.",
      )
      .option("--limit <n>", "findings per page (max 1000)", "100")
      .option("--after <cursor>", "continue after a page (its `next`)")
      .option("--all", "follow pages to the end"),
  ).action(async (id: string, flags: ClientFlags & { limit: string; after?: string; all?: boolean }) => {
    const limit = Number(flags.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new ValidationError("--limit takes a whole number from 1 to 1000", { where: "--limit" });
    const client = clientFrom(flags);
    const pageOf = (cursor: string | undefined) => {
      const query = new URLSearchParams({ limit: String(limit) });
      if (cursor) query.set("cursor", cursor);
      return client.get<VulnerabilityView>(`/api/v1/vulnerabilities/${enc(id)}?${query}`);
    };
    const v = await pageOf(flags.after);
    const findings = [...v.items];
    let next = v.next;
    while (flags.all && next) {
      const page = await pageOf(next);
      findings.push(...page.items);
      next = page.next;
    }
    if (flags.json) return printJson({ ...v, items: findings, next });
    printFields([
      ["vulnerability", v.id],
      ["aliases", v.aliases.join(", ")],
      ["advisories", v.advisories.map((a) => `${a.id}${a.withdrawn ? " (withdrawn)" : ""}`).join(", ")],
      ["summary", v.advisories[0]?.summary ?? ""],
      ["known exploited", v.kev ? `yes (CISA KEV since ${v.kev.dateAdded})` : "no"],
      [
        "EPSS",
        v.epss
          ? `${(v.epss.epss * 100).toFixed(2)} % (percentile ${v.epss.percentile.toFixed(2)})`
          : "unscored",
      ],
      [
        "assets",
        `${v.counts.assets} affected now; ${v.counts.open} open, ${v.counts.acceptedRisk} accepted, ` +
          `${v.counts.notAffected} not affected, ${v.counts.fixed} fixed`,
      ],
    ]);
    if (findings.length > 0) {
      process.stdout.write("\n");
      findingRows(findings);
    }
    if (next) {
      const total = v.counts.open + v.counts.acceptedRisk + v.counts.notAffected + v.counts.fixed;
      process.stderr.write(`${findings.length} of ${total} findings shown: --all, or --after ${next}\n`);
    }
  });
}
