import { statSync } from "node:fs";
import type { Command } from "commander";
import type { EmergencyBasis } from "../../changes/approval-rule.js";
import type { ChangeRequest, ChangeReview } from "../../changes/change-request.js";
import type { FromFindingsResult } from "../../changes/from-findings.js";
import { CHANGE_STATES, type ChangeState, isTerminal } from "../../changes/lifecycle.js";
import type { PlanV2 } from "../../changes/plan.js";
import { formatPlanTimeline } from "../../changes/plan-format.js";
import type { ApiClient } from "../../client/api-client.js";
import { listAll } from "../../client/list-all.js";
import { NotFoundError, reasonError, ValidationError } from "../../domain/errors.js";
import { type ClientFlags, clientFrom, collectList, parseDurationFlag, withClientFlags } from "../common.js";
import { paintClass, paintOverdue, paintState } from "../output/color.js";
import { formatTime, formatWhen } from "../output/time.js";
import { printFields, printJson, printTable } from "../output.js";
import { type PlanFile, planDrift, planFileFor, readPlanFile, writePlanFile } from "../plan-file.js";
import { uploadArtifactFile } from "./artifact.js";
import { policyRefForFile } from "./policy.js";

/** How `show` and `list` print the post-hoc review. */
function reviewText(review: ChangeReview): string {
  switch (review.state) {
    case "not-required":
      return "not required";
    case "pending":
      return `pending (due ${formatWhen(review.dueAt) || "?"})`;
    case "overdue":
      return `OVERDUE (was due ${formatWhen(review.dueAt) || "?"})`;
    case "done":
      return `done by ${review.by ?? "?"} at ${formatTime(review.at) || "?"}: ${review.reason ?? ""}`;
  }
}

/** `2 of 1 (cab-1, cab-2)`: valid approvals against the frozen rule. */
function approvalsText(change: ChangeRequest): string {
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
  artifact?: string[];
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
  plan?: string;
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
    ...change.patch.alsoArtifacts.map((a): [string, string] => [
      "artifact",
      `${a.name} sha256:${a.sha256} (${a.package})`,
    ]),
    ["advisories", change.patch.advisories.join(", ")],
    ["ticket", change.patch.ticket ?? ""],
    ["selector", change.selector === "" ? '"" (every asset)' : change.selector],
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
    [
      "start",
      change.plan ? `${formatWhen(change.plan.start) || "none"} (${change.plan.reason})` : "not planned yet",
    ],
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

/** Polls a change until it is in `wanted` (0), ends elsewhere or the time runs out (1). */
async function waitForChange(
  client: ApiClient,
  id: string,
  wanted: ChangeState,
  options: { timeoutMs: number; intervalMs: number; json: boolean },
): Promise<number> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const shown = await client.get<ChangeRequest>(`/api/v1/changes/${encodeURIComponent(id)}`);
    const done = shown.state === wanted;
    const ended = !done && isTerminal(shown.state);
    const late = !done && !ended && Date.now() >= deadline;
    if (done || ended || late) {
      if (options.json) printJson(shown);
      else if (done) process.stdout.write(`${shown.id}: ${shown.state}\n`);
      if (ended) {
        process.stderr.write(
          `${shown.id} ended ${shown.state}${shown.stateReason ? ` (${shown.stateReason})` : ""}, not ${wanted}\n`,
        );
      }
      if (late) process.stderr.write(`timed out: ${shown.id} is ${shown.state}, not ${wanted}\n`);
      return done ? 0 : 1;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(options.intervalMs, deadline - Date.now())));
  }
}

/** `change create --plan FILE`: the saved change again, cancelled at once if its rollout would differ. */
async function createFromPlanFile(client: ApiClient, saved: PlanFile, flags: CreateFlags): Promise<void> {
  const c = saved.change;
  const created = await client.post<ChangeRequest>("/api/v1/changes", {
    ecosystem: c.ecosystem,
    package: c.package,
    version: c.version,
    selector: c.selector,
    justification: flags.justification ?? c.justification,
    policy: c.policy,
    class: c.class,
    ...(c.artifact ? { artifact: c.artifact } : {}),
    ...(c.source !== null ? { source: c.source } : {}),
    ...(c.ticket !== null ? { ticket: c.ticket } : {}),
    ...(c.emergency ? { emergency: true } : {}),
    ...(c.risk !== null ? { risk: c.risk } : {}),
    ...(c.rollback !== null ? { rollback: c.rollback } : {}),
    ...(c.advisories.length > 0 ? { advisories: c.advisories } : {}),
  });
  const plan = await client.get<PlanV2>(`/api/v1/changes/${encodeURIComponent(created.id)}/plan`);
  const drift = planDrift(saved, plan);
  if (drift !== null) {
    await client.post(`/api/v1/changes/${encodeURIComponent(created.id)}/cancel`, {
      reason: `its plan differs from the saved plan (${drift})`,
    });
    throw reasonError(
      "cli.plan-changed",
      `the plan changed since it was saved (${drift}); ${created.id} was cancelled: plan again with change plan ID --out FILE`,
      { where: "--plan" },
    );
  }
  if (flags.json) return printJson(created);
  process.stdout.write(`${created.id}\n`);
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
        "package file to install: uploaded to the artifact store, its package, version and sha256 recorded; repeat for the other binaries of the source (the first names the change's package)",
        collectList,
      )
      .option("--source <source>", "where the package manager gets it, when there is no artifact")
      .option(
        "-l, --selector <selector>",
        "target assets, e.g. 'environment=prod,group=web'; '' for every asset (required unless --plan)",
      )
      .option(
        "--policy <file|name>",
        "policy file (its stored version; applied first, by an admin, when new) or NAME[@VERSION] (default: default)",
      )
      .option("--justification <text>", "why the change is needed (required unless --plan)")
      .option("--ticket <ticket>", "ticket it closes")
      .option("--emergency", "emergency change (the fast path: justification now, review afterwards)")
      .option("--risk <text>", "risk notes")
      .option("--rollback <text>", "rollback notes")
      .option("--advisory <id>", "advisory it closes (repeat)", collectList)
      .option("--class <class>", "emergency, high or routine (default: routine, emergency with --emergency)")
      .option(
        "--plan <file>",
        "a plan saved by `change plan ID --out FILE`: the same change, kept only if it plans the same rollout",
      ),
  ).action(async (flags: CreateFlags) => {
    const client = clientFrom(flags);
    if (flags.plan !== undefined) return createFromPlanFile(client, readPlanFile(flags.plan), flags);
    for (const [flag, value] of [
      ["--selector", flags.selector],
      ["--justification", flags.justification],
    ] as const) {
      if (value === undefined)
        throw new ValidationError(`${flag} is required (or --plan FILE)`, { where: flag });
    }
    let policy = flags.policy;
    if (policy !== undefined && (isFile(policy) || /\.ya?ml$/i.test(policy))) {
      if (!isFile(policy)) throw new NotFoundError(`policy file not found: ${policy}`, { where: "--policy" });
      policy = await policyRefForFile(client, policy);
    }
    const artifacts: Array<{ name: string; sha256: string }> = [];
    const alsoPackages: string[] = [];
    let pkg = flags.package;
    let version = flags.version;
    for (const file of flags.artifact ?? []) {
      if (!isFile(file)) {
        throw new ValidationError(`artifact file not found: ${file}`, { where: "--artifact" });
      }
      // The store reads the package's own control fields: the change installs what the file really is.
      const stored = await uploadArtifactFile(client, file, "--artifact");
      const first = artifacts.length === 0;
      for (const [flag, given, actual] of [
        ["--package", first ? pkg : undefined, stored.package],
        ["--version", version, stored.version],
      ] as const) {
        if (given !== undefined && given !== actual) {
          throw reasonError(
            "artifact.mismatch",
            `${file} is ${stored.package} ${stored.version}, but ${first ? flag : "the first --artifact"} says ${given}`,
            { where: first ? flag : "--artifact" },
          );
        }
      }
      if (first) pkg = stored.package;
      else if (stored.package !== pkg) alsoPackages.push(stored.package);
      version = stored.version;
      artifacts.push({ name: stored.fileName, sha256: stored.sha256 });
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
      ...(artifacts.length === 1 ? { artifact: artifacts[0] } : {}),
      ...(artifacts.length > 1 ? { artifacts, alsoPackages } : {}),
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

  withClientFlags(
    change
      .command("wait <id>")
      .description(
        "Wait until a change reaches a state, as kubectl wait does: exits 0 then, 1 when it ends in another state or the time runs out",
      )
      .requiredOption("--for <condition>", "state=STATE, e.g. state=completed")
      .option("--timeout <duration>", "give up after this long (default 30m)")
      .option("--interval <duration>", "how often to look (default 2s)"),
  ).action(async (id: string, flags: ClientFlags & { for: string; timeout?: string; interval?: string }) => {
    const wanted = /^state=(.+)$/.exec(flags.for)?.[1];
    if (wanted === undefined || !(CHANGE_STATES as readonly string[]).includes(wanted)) {
      throw reasonError(
        "cli.bad-wait-condition",
        `--for takes state=STATE, one of ${CHANGE_STATES.join(", ")}`,
        { where: "--for" },
      );
    }
    process.exitCode = await waitForChange(clientFrom(flags), id, wanted as ChangeState, {
      timeoutMs: flags.timeout === undefined ? 30 * 60_000 : parseDurationFlag(flags.timeout, "--timeout"),
      intervalMs: Math.max(
        50,
        flags.interval === undefined ? 2000 : parseDurationFlag(flags.interval, "--interval"),
      ),
      json: flags.json === true,
    });
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
      .description("Print the plan as a timeline: frozen once scheduled, else computed now (changes nothing)")
      .option(
        "--detailed-exitcode",
        "exit 0 when the plan patches nothing, 2 when it would patch assets, 1 on errors (as terraform plan)",
      )
      .option("--out <file>", "save the plan, for `change create --plan FILE` to pin"),
  ).action(async (id: string, flags: ClientFlags & { detailedExitcode?: boolean; out?: string }) => {
    const client = clientFrom(flags);
    const plan = await client.get<PlanV2>(`/api/v1/changes/${encodeURIComponent(id)}/plan`);
    const shown =
      flags.json && flags.out === undefined
        ? undefined
        : await client.get<ChangeRequest>(`/api/v1/changes/${encodeURIComponent(id)}`);
    if (flags.out !== undefined && shown !== undefined) {
      writePlanFile(flags.out, planFileFor(shown, plan));
      if (!flags.json) process.stderr.write(`saved the plan to ${flags.out}\n`);
    }
    if (flags.json) printJson(plan);
    else if (shown !== undefined)
      process.stdout.write(formatPlanTimeline(plan, `${shown.id} ${shown.title} (${shown.state})`));
    if (flags.detailedExitcode) process.exitCode = plan.summary.toPatch > 0 ? 2 : 0;
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
      { header: "ID", value: (c) => c.id, keep: true },
      { header: "STATE", value: (c) => c.state, paint: paintState },
      { header: "CLASS", value: (c) => (c.emergency ? `${c.class}!` : c.class), paint: paintClass },
      { header: "PACKAGE", value: (c) => `${c.patch.package} ${c.patch.version}` },
      { header: "SELECTOR", value: (c) => c.selector },
      { header: "APPROVALS", value: (c) => approvalsText(c), wide: true },
      { header: "START", value: (c) => formatTime(c.scheduledStart) },
      {
        header: "REVIEW",
        value: (c) => (c.review.state === "not-required" ? "" : reviewText(c.review)),
        paint: (t, c) => (c.review.state === "overdue" ? paintOverdue(t) : t),
        wide: true,
      },
    ]);
  });

  withClientFlags(
    change
      .command("from-findings")
      .description(
        "Draft one change per source package and fixed version that open findings of a class need (it lists the binaries it covers)",
      )
      .requiredOption("--class <class>", "emergency, high or routine")
      .requiredOption("-l, --selector <selector>", 'assets to consider ("" for every asset)')
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
