import { statSync } from "node:fs";
import type { Command } from "commander";
import type { EmergencyBasis } from "../../changes/approval-rule.js";
import type { ChangeRequest, ChangeReview } from "../../changes/change-request.js";
import type { FromFindingsResult } from "../../changes/from-findings.js";
import type { PlanV2 } from "../../changes/plan.js";
import { formatPlanTimeline } from "../../changes/plan-format.js";
import { listAll } from "../../client/list-all.js";
import { NotFoundError, reasonError, ValidationError } from "../../domain/errors.js";
import { type ClientFlags, clientFrom, collectList, withClientFlags } from "../common.js";
import { printFields, printJson, printTable } from "../output.js";
import { uploadArtifactFile } from "./artifact.js";
import { policyRefForFile } from "./policy.js";

/** How `show` and `list` print the post-hoc review. */
export function reviewText(review: ChangeReview): string {
  switch (review.state) {
    case "not-required":
      return "not required";
    case "pending":
      return `pending (due ${review.dueAt ?? "?"})`;
    case "overdue":
      return `OVERDUE (was due ${review.dueAt ?? "?"})`;
    case "done":
      return `done by ${review.by ?? "?"} at ${review.at ?? "?"}: ${review.reason ?? ""}`;
  }
}

/** `2 of 1 (cab-1, cab-2)`: valid approvals against the frozen rule. */
export function approvalsText(change: ChangeRequest): string {
  if (change.approvalRule === null) return "not submitted";
  const valid = change.approvals.filter((a) => a.valid).map((a) => a.approver);
  return `${change.validApprovals} of ${change.approvalRule.required}${valid.length > 0 ? ` (${[...new Set(valid)].join(", ")})` : ""}`;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

interface CreateFlags extends ClientFlags {
  ecosystem?: string;
  package?: string;
  version?: string;
  artifact?: string;
  source?: string;
  selector?: string;
  policy?: string;
  justification?: string;
  ticket?: string;
  emergency?: boolean;
  risk?: string;
  rollback?: string;
  advisory?: string[];
  class?: string;
}

/** What backs an emergency: its evidence, or that it waits for an approver's confirmation. */
function emergencyText(basis: EmergencyBasis): string {
  if (basis.confirmationRequired)
    return "no known-exploited or emergency finding: needs an approver's confirmation";
  const shown = basis.evidence
    .slice(0, 3)
    .map((e) => `${e.vulnId} on ${e.asset}${e.knownExploited ? " (known exploited)" : ` (${e.class})`}`);
  return `backed by ${shown.join(", ")}${basis.evidence.length > 3 ? ` and ${basis.evidence.length - 3} more` : ""}`;
}

function printChange(change: ChangeRequest): void {
  const policy = `${change.policy.name}@${change.policy.version}`;
  printFields([
    ["id", change.id],
    ["title", change.title],
    ["state", change.stateReason ? `${change.state} (${change.stateReason})` : change.state],
    ["class", `${change.class}${change.emergency ? ", emergency" : ""}`],
    ["package", `${change.patch.package} ${change.patch.version}`],
    [
      "artifact",
      change.patch.artifact
        ? `${change.patch.artifact.name} sha256:${change.patch.artifact.sha256}`
        : (change.patch.source ?? "from the package manager"),
    ],
    ["advisories", change.patch.advisories.join(", ")],
    ["ticket", change.patch.ticket ?? ""],
    ["selector", change.selector],
    ["policy", policy],
    ["requester", change.requester],
    ["justification", change.justification],
    ["risk", change.risk ?? ""],
    ["rollback", change.rollback ?? ""],
    ["approvals", approvalsText(change)],
    ...(change.approvalRule?.emergency
      ? [["emergency", emergencyText(change.approvalRule.emergency)] as const]
      : []),
    ...(change.overrideApprover ? [["override by", change.overrideApprover] as const] : []),
    ["review", reviewText(change.review)],
    ["start", change.plan ? `${change.plan.start ?? "none"} (${change.plan.reason})` : "not planned yet"],
    ...(change.plan
      ? [
          [
            "phases",
            change.plan.phases
              .map((p) => `${p.name}: ${p.assets} asset${p.assets === 1 ? "" : "s"}`)
              .join(", "),
          ] as const,
          ["targets", `${change.plan.assets} to patch, ${change.plan.skipped} skipped`] as const,
        ]
      : []),
    ...(change.rolloutId ? [["rollout", change.rolloutId] as const] : []),
  ]);
}

export function registerChangeCommands(program: Command): void {
  // `change create --version V` names the target version: with positional options the program's own
  // --version counts only before a subcommand, instead of printing autopatch's version from anywhere.
  program.enablePositionalOptions();
  const change = program
    .command("change")
    .description("Change requests: create, submit, approve, schedule with a plan, review");

  withClientFlags(
    change
      .command("create")
      .description("Create a change request (a draft); prints its id")
      .option("--package <name>", "package to install (read from --artifact when it is given)")
      .option("--ecosystem <name>", "OSV ecosystem of the package, e.g. Debian, Ubuntu (default: Debian)")
      .option("--version <version>", "target version (read from --artifact when it is given)")
      .option(
        "--artifact <file>",
        "package file to install: uploaded to the artifact store, its package, version and sha256 recorded",
      )
      .option("--source <source>", "where the package manager gets it, when there is no artifact")
      .requiredOption("--selector <selector>", "target assets, e.g. 'environment=prod,group=web'")
      .option(
        "--policy <file|name>",
        "policy file (its stored version; applied first, by an admin, when new) or NAME[@VERSION] (default: default)",
      )
      .requiredOption("--justification <text>", "why the change is needed")
      .option("--ticket <ticket>", "ticket it closes")
      .option("--emergency", "emergency change (the fast path: justification now, review afterwards)")
      .option("--risk <text>", "risk notes")
      .option("--rollback <text>", "rollback notes")
      .option("--advisory <id>", "advisory it closes (repeat)", collectList)
      .option("--class <class>", "emergency, high or routine (default: routine, emergency with --emergency)"),
  ).action(async (flags: CreateFlags) => {
    const client = clientFrom(flags);
    let policy = flags.policy;
    if (policy !== undefined && (isFile(policy) || /\.ya?ml$/i.test(policy))) {
      if (!isFile(policy)) throw new NotFoundError(`policy file not found: ${policy}`, { where: "--policy" });
      policy = await policyRefForFile(client, policy);
    }
    let artifact: { name: string; sha256: string } | undefined;
    let pkg = flags.package;
    let version = flags.version;
    if (flags.artifact !== undefined) {
      if (!isFile(flags.artifact)) {
        throw new ValidationError(`artifact file not found: ${flags.artifact}`, { where: "--artifact" });
      }
      // The store reads the package's own control fields: the change installs what the file really is.
      const stored = await uploadArtifactFile(client, flags.artifact, "--artifact");
      for (const [flag, given, actual] of [
        ["--package", pkg, stored.package],
        ["--version", version, stored.version],
      ] as const) {
        if (given !== undefined && given !== actual) {
          throw reasonError(
            "artifact.mismatch",
            `${flags.artifact} is ${stored.package} ${stored.version}, but ${flag} says ${given}`,
            { where: flag },
          );
        }
      }
      pkg = stored.package;
      version = stored.version;
      artifact = { name: stored.fileName, sha256: stored.sha256 };
    }
    if (pkg === undefined || version === undefined) {
      throw new ValidationError("give --package and --version, or --artifact FILE.deb to read them from", {
        where: pkg === undefined ? "--package" : "--version",
      });
    }
    const body = {
      ...(flags.ecosystem !== undefined ? { ecosystem: flags.ecosystem } : {}),
      package: pkg,
      version,
      selector: flags.selector,
      justification: flags.justification,
      ...(artifact ? { artifact } : {}),
      ...(flags.source !== undefined ? { source: flags.source } : {}),
      ...(policy !== undefined ? { policy } : {}),
      ...(flags.ticket !== undefined ? { ticket: flags.ticket } : {}),
      ...(flags.emergency ? { emergency: true } : {}),
      ...(flags.risk !== undefined ? { risk: flags.risk } : {}),
      ...(flags.rollback !== undefined ? { rollback: flags.rollback } : {}),
      ...(flags.advisory !== undefined ? { advisories: flags.advisory } : {}),
      ...(flags.class !== undefined ? { class: flags.class } : {}),
    };
    const created = await client.post<ChangeRequest>("/api/v1/changes", body);
    if (flags.json) return printJson(created);
    process.stdout.write(`${created.id}\n`);
  });

  const decisions = [
    ["submit", "Submit a draft for approval (an emergency the policy lets through is scheduled at once)"],
    ["approve", "Approve (approver); enough approvals plan and schedule the change"],
    ["reject", "Reject (approver)"],
    ["cancel", "Cancel a draft, submitted, approved or scheduled change"],
  ] as const;
  for (const [action, description] of decisions) {
    withClientFlags(
      change
        .command(`${action} <id>`)
        .description(description)
        .option("--reason <reason>", "why, for the audit log"),
    ).action(async (id: string, flags: ClientFlags & { reason?: string }) => {
      const updated = await clientFrom(flags).post<ChangeRequest>(
        `/api/v1/changes/${encodeURIComponent(id)}/${action}`,
        flags.reason === undefined ? {} : { reason: flags.reason },
      );
      if (flags.json) return printJson(updated);
      const start = updated.state === "scheduled" && updated.plan ? ` at ${updated.plan.start ?? "?"}` : "";
      process.stdout.write(`${updated.id}: ${updated.state}${start}\n`);
    });
  }

  withClientFlags(
    change
      .command("review <id>")
      .description("Record the post-hoc review an emergency change owes (approver)")
      .requiredOption("--reason <reason>", "the review's finding"),
  ).action(async (id: string, flags: ClientFlags & { reason: string }) => {
    const updated = await clientFrom(flags).post<ChangeRequest>(
      `/api/v1/changes/${encodeURIComponent(id)}/review`,
      {
        reason: flags.reason,
      },
    );
    if (flags.json) return printJson(updated);
    process.stdout.write(`${updated.id}: review ${reviewText(updated.review)}\n`);
  });

  withClientFlags(change.command("show <id>").description("Show a change request")).action(
    async (id: string, flags: ClientFlags) => {
      const shown = await clientFrom(flags).get<ChangeRequest>(`/api/v1/changes/${encodeURIComponent(id)}`);
      if (flags.json) return printJson(shown);
      printChange(shown);
    },
  );

  withClientFlags(
    change
      .command("plan <id>")
      .description(
        "Print the plan as a timeline: frozen once scheduled, else computed now (changes nothing)",
      ),
  ).action(async (id: string, flags: ClientFlags) => {
    const client = clientFrom(flags);
    const plan = await client.get<PlanV2>(`/api/v1/changes/${encodeURIComponent(id)}/plan`);
    if (flags.json) return printJson(plan);
    const shown = await client.get<ChangeRequest>(`/api/v1/changes/${encodeURIComponent(id)}`);
    process.stdout.write(formatPlanTimeline(plan, `${shown.id} ${shown.title} (${shown.state})`));
  });

  withClientFlags(
    change
      .command("list")
      .description("List change requests")
      .option("--state <state>", "only in this state"),
  ).action(async (flags: ClientFlags & { state?: string }) => {
    const list = await listAll(clientFrom(flags), "/api/v1/changes", {
      query: flags.state ? { state: flags.state } : {},
    });
    if (flags.json) return printJson(list);
    printTable(list, [
      { header: "ID", value: (c) => c.id },
      { header: "STATE", value: (c) => c.state },
      { header: "CLASS", value: (c) => (c.emergency ? `${c.class}!` : c.class) },
      { header: "PACKAGE", value: (c) => `${c.patch.package} ${c.patch.version}` },
      { header: "SELECTOR", value: (c) => c.selector },
      { header: "APPROVALS", value: (c) => approvalsText(c) },
      { header: "START", value: (c) => c.scheduledStart ?? "" },
      { header: "REVIEW", value: (c) => (c.review.state === "not-required" ? "" : reviewText(c.review)) },
    ]);
  });

  withClientFlags(
    change
      .command("from-findings")
      .description(
        "Draft one change per source package and fixed version that open findings of a class need (it lists the binaries it covers)",
      )
      .requiredOption("--class <class>", "emergency, high or routine")
      .requiredOption("--selector <selector>", "assets to consider")
      .option("--policy <name>", "policy NAME[@VERSION] the drafts pin (default: default)"),
  ).action(async (flags: ClientFlags & { class: string; selector: string; policy?: string }) => {
    const result = await clientFrom(flags).post<FromFindingsResult>("/api/v1/changes/from-findings", {
      class: flags.class,
      selector: flags.selector,
      ...(flags.policy !== undefined ? { policy: flags.policy } : {}),
    });
    if (flags.json) return printJson(result);
    for (const c of result.created) process.stdout.write(`${c.id}\n`);
    for (const s of result.skipped) {
      process.stderr.write(`skipped ${s.package} ${s.version ?? ""} on ${s.assets.join(",")}: ${s.reason}\n`);
    }
  });
}
