import type { Command } from "commander";
import { listAll } from "../../client/list-all.js";
import { readPolicyText } from "../../policy/policy-file.js";
import type { PolicyProposal, PolicyProposalWithContent, ProposalState } from "../../policy/proposals.js";
import { type ClientFlags, clientFrom, withClientFlags } from "../common.js";
import { paintState } from "../output/color.js";
import { formatAge, formatTime } from "../output/time.js";
import { printFields, printJson, printTable } from "../output.js";

const enc = encodeURIComponent;

function printProposal(p: PolicyProposalWithContent): void {
  printFields([
    ["id", p.id],
    [
      "policy",
      `${p.name} (proposed against ${p.baseVersion === null ? "no version" : `version ${p.baseVersion}`})`,
    ],
    ["state", p.version === null ? p.state : `${p.state}: stored as ${p.name}@${p.version}`],
    ["proposer", p.proposer],
    ["reason", p.reason],
    [
      "decided",
      p.decidedBy ? `${p.decidedBy} at ${p.decidedAt}${p.decisionReason ? `: ${p.decisionReason}` : ""}` : "",
    ],
    ["sha256", p.hash],
  ]);
  process.stdout.write(`---\n${p.content.endsWith("\n") ? p.content : `${p.content}\n`}`);
}

/**
 * `propose`, `proposals`, `proposal`, `approve` and `reject`: a policy version by someone who is not an
 * admin, stored once an approver or admin other than its proposer approves it.
 */
export function addProposalCommands(policy: Command): void {
  withClientFlags(
    policy
      .command("propose")
      .description(
        "Propose a policy file as the next version of its name; an approver other than you approves it",
      )
      .argument("<file>", "policy YAML file")
      .requiredOption("--reason <text>", "why the policy should change"),
  ).action(async (file: string, flags: ClientFlags & { reason: string }) => {
    const content = await readPolicyText(file);
    const p = await clientFrom(flags).post<PolicyProposal>("/api/v1/policy-proposals", {
      content,
      file,
      reason: flags.reason,
    });
    if (flags.json) return printJson(p);
    process.stdout.write(`${p.id}: proposed ${p.name} (pending approval)\n`);
  });

  withClientFlags(
    policy
      .command("proposals")
      .description("List policy proposals, newest first")
      .option("--state <state>", "pending, approved or rejected"),
  ).action(async (flags: ClientFlags & { state?: string }) => {
    const list = await listAll(clientFrom(flags), "/api/v1/policy-proposals", {
      query: { state: flags.state as ProposalState | undefined },
    });
    if (flags.json) return printJson(list);
    printTable(list, [
      { header: "ID", value: (p) => p.id },
      { header: "POLICY", value: (p) => p.name },
      { header: "BASE", value: (p) => p.baseVersion ?? "" },
      { header: "STATE", value: (p) => p.state, paint: paintState },
      { header: "PROPOSER", value: (p) => p.proposer },
      { header: "CREATED", value: (p) => formatAge(p.createdAt) },
      { header: "CREATED AT", value: (p) => formatTime(p.createdAt), wide: true },
      { header: "REASON", value: (p) => p.reason },
    ]);
  });

  withClientFlags(
    policy.command("proposal").description("Show one policy proposal with its YAML").argument("<id>"),
  ).action(async (id: string, flags: ClientFlags) => {
    const p = await clientFrom(flags).get<PolicyProposalWithContent>(`/api/v1/policy-proposals/${enc(id)}`);
    if (flags.json) return printJson(p);
    printProposal(p);
  });

  withClientFlags(
    policy
      .command("approve")
      .description("Approve a policy proposal (approvers and admins other than its proposer): it is stored")
      .argument("<id>")
      .option("--reason <text>", "why"),
  ).action(async (id: string, flags: ClientFlags & { reason?: string }) => {
    const p = await clientFrom(flags).post<PolicyProposalWithContent>(
      `/api/v1/policy-proposals/${enc(id)}/approve`,
      flags.reason === undefined ? {} : { reason: flags.reason },
    );
    if (flags.json) return printJson(p);
    process.stdout.write(`${p.id}: approved, stored as ${p.name}@${p.version}\n`);
  });

  withClientFlags(
    policy
      .command("reject")
      .description("Reject a policy proposal (approvers and admins other than its proposer)")
      .argument("<id>")
      .requiredOption("--reason <text>", "why"),
  ).action(async (id: string, flags: ClientFlags & { reason: string }) => {
    const p = await clientFrom(flags).post<PolicyProposalWithContent>(
      `/api/v1/policy-proposals/${enc(id)}/reject`,
      { reason: flags.reason },
    );
    if (flags.json) return printJson(p);
    process.stdout.write(`${p.id}: rejected\n`);
  });
}
