import { Command } from "commander";
import type { ApiClient } from "../../client/api-client.js";
import { listAll } from "../../client/list-all.js";
import { isAppError, ValidationError } from "../../domain/errors.js";
import { defaultPolicyYaml } from "../../policy/default-policy.js";
import { type DiffSide, diffPolicies, formatPolicyDiff, type PolicyDiff } from "../../policy/diff.js";
import {
  loadPolicy,
  type PolicyIssue,
  type PolicyValidation,
  policyContentHash,
  validatePolicy,
} from "../../policy/loader.js";
import { readPolicyText } from "../../policy/policy-file.js";
import { policyJsonSchema } from "../../policy/schema.js";
import {
  type AppliedPolicy,
  type ApplyResult,
  checkPolicyName,
  type PolicyVersionInfo,
  parsePolicyRef,
} from "../../policy/store.js";
import { parseWebhookAllowList } from "../../policy/webhook-destination.js";
import {
  type ClientFlags,
  clientFrom,
  collectList,
  webhookAllowEntries,
  withClientFlags,
} from "../common.js";
import { withOutputFlags } from "../output/options.js";
import { formatAge, formatTime } from "../output/time.js";
import { printFields, printJson, printTable } from "../output.js";
import { addProposalCommands } from "./policy-proposals.js";

/** The `--json` shape of `policy validate`. */
export interface ValidateJson {
  ok: boolean;
  errors: PolicyIssue[];
  /** Problems that do not make the policy invalid (phases empty at the typical fleet size). */
  warnings: PolicyIssue[];
}

/** `FILE:line:col: message` per issue, as compilers print them (editors jump to the location). */
export function validationLines(file: string, result: PolicyValidation): string[] {
  if (result.ok) return result.warnings.map((w) => `${file}:${w.line}:${w.column}: warning: ${w.message}`);
  return result.errors.map((e) => `${file}:${e.line}:${e.column}: ${e.message}`);
}

const issueJson = ({ line, column, path, message }: PolicyIssue): PolicyIssue => ({
  line,
  column,
  path,
  message,
});

export function validationJson(result: PolicyValidation): ValidateJson {
  return result.ok
    ? { ok: true, errors: [], warnings: result.warnings.map(issueJson) }
    : { ok: false, errors: result.errors.map(issueJson), warnings: [] };
}

/** Reads `--fleet-size`: a whole number of assets, at least 1. */
export function parseFleetSize(text: string): number {
  const n = /^\d{1,9}$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n < 1) {
    throw new ValidationError(
      `--fleet-size: ${JSON.stringify(text)} must be a whole number of assets, at least 1`,
      {
        where: "--fleet-size",
      },
    );
  }
  return n;
}

/**
 * Creates the `policy` command with `validate`, `schema` and `default`. Pass the program so the command
 * inherits its settings (exitOverride, help after errors); the returned command takes more subcommands.
 */
function createPolicyCommand(parent?: Command): Command {
  const policy = (parent ? parent.command("policy") : new Command("policy")).description(
    "Policy files: validate them, print the JSON Schema or the built-in default policy; apply, list and show stored versions",
  );

  withOutputFlags(
    policy
      .command("validate")
      .description("Check a policy file; prints FILE:line:col: message per problem, exit code 2 when invalid")
      .argument("<file>", "policy YAML file")
      .option(
        "--webhook-allow <cidr|host>",
        "a private or loopback webhook destination the server allows; repeatable (default $AUTOPATCH_WEBHOOK_ALLOW)",
        collectList,
      )
      .option(
        "--fleet-size <n>",
        "warn about rollout phases that would be empty for this many assets (default rollout.typicalFleetSize)",
      ),
    "print {ok, errors:[{line, column, path, message}]} (same as -o json)",
  ).action(async (file: string, opts: { json?: boolean; webhookAllow?: string[]; fleetSize?: string }) => {
    // The same checker as apply and planning, under the allow-list the server would use.
    const webhooks = parseWebhookAllowList(webhookAllowEntries(opts.webhookAllow));
    const result = validatePolicy(await readPolicyText(file), file, {
      webhooks,
      ...(opts.fleetSize === undefined ? {} : { fleetSize: parseFleetSize(opts.fleetSize) }),
    });
    const lines = validationLines(file, result);
    if (opts.json) printJson(validationJson(result));
    else if (result.ok) {
      if (lines.length > 0) process.stderr.write(`${lines.join("\n")}\n`);
      process.stdout.write(
        `${file}: valid${lines.length > 0 ? ` (${lines.length} warning${lines.length === 1 ? "" : "s"})` : ""}\n`,
      );
    } else process.stderr.write(`${lines.join("\n")}\n`);
    // The problems are the output, so they are not thrown again as one error; only the exit code is set.
    if (!result.ok) process.exitCode = 2;
  });

  policy
    .command("schema")
    .description("Print the JSON Schema of policy files")
    .action(() => printJson(policyJsonSchema()));

  policy
    .command("default")
    .description("Print the built-in policy `default` (the patching SOP) as YAML")
    .action(() => {
      process.stdout.write(defaultPolicyYaml());
    });

  addStoreCommands(policy);
  addProposalCommands(policy);
  return policy;
}

/** `apply`, `list` and `show`: policies stored versioned on the server. */
function addStoreCommands(policy: Command): void {
  withClientFlags(
    policy
      .command("apply")
      .description(
        "Store a policy file as the next version of its name (admins; unchanged content keeps its version)",
      )
      .argument("<file>", "policy YAML file"),
  ).action(async (file: string, flags: ClientFlags) => {
    const result = await applyPolicyFile(clientFrom(flags), file);
    if (flags.json) return printJson(result);
    // What changed first, as terraform prints its plan before "Apply complete".
    if (result.created) process.stdout.write(formatPolicyDiff(result.diff));
    process.stdout.write(
      `${result.created ? "applied" : "unchanged"}: ${result.name}@${result.version} (sha256 ${result.hash.slice(0, 12)})\n`,
    );
  });

  withClientFlags(
    policy
      .command("diff")
      .description(
        "Show what applying FILE would change against the stored NAME (latest, or NAME@VERSION); without FILE, what NAME's latest (or NAME@VERSION) changed against the version before it",
      )
      .argument("<ref>", "NAME or NAME@VERSION")
      .argument("[file]", "policy YAML file"),
  ).action(async (ref: string, file: string | undefined, flags: ClientFlags) => {
    const diff = await policyDiff(clientFrom(flags), ref, file);
    if (flags.json) return printJson(diff);
    process.stdout.write(formatPolicyDiff(diff));
  });

  withClientFlags(
    policy
      .command("use")
      .description(
        "Choose the stored policy whose latest version classifies findings and sets their due dates (admins; audited; findings are re-dated)",
      )
      .argument("<name>", "a stored policy's name"),
  ).action(async (name: string, flags: ClientFlags) => {
    checkPolicyName(name, "<name>");
    const result = await clientFrom(flags).put<UseJson>("/api/v1/findings-policy", { name });
    if (flags.json) return printJson(result);
    const was = result.previous === null ? "the built-in policy" : result.previous;
    process.stdout.write(
      result.changed
        ? `findings now use ${result.name}@${result.version} (was ${was})\n`
        : `findings already use ${result.name} (latest ${result.name}@${result.version})\n`,
    );
  });

  withClientFlags(
    policy
      .command("list")
      .description(
        "List stored policies with their latest version; FINDINGS marks the one `policy use` chose",
      ),
  ).action(async (flags: ClientFlags) => {
    const list = await listAll(clientFrom(flags), "/api/v1/policies");
    if (flags.json) return printJson(list);
    printTable(list, [
      { header: "NAME", value: (p) => p.name },
      { header: "VERSION", value: (p) => p.version },
      { header: "VERSIONS", value: (p) => p.versions },
      { header: "FINDINGS", value: (p) => (p.findings ? "*" : "") },
      { header: "AUTHOR", value: (p) => p.author },
      { header: "CREATED", value: (p) => formatAge(p.createdAt) },
      { header: "CREATED AT", value: (p) => formatTime(p.createdAt), wide: true },
      { header: "SHA256", value: (p) => p.hash.slice(0, 12), wide: true },
    ]);
    if (!list.some((p) => p.findings)) {
      process.stdout.write("findings use the built-in policy; choose one with `autopatch policy use NAME`\n");
    }
  });

  withClientFlags(
    policy
      .command("show")
      .description("Show a stored policy: NAME for the latest version, NAME@VERSION for one version")
      .argument("<ref>", "NAME or NAME@VERSION"),
  ).action(async (ref: string, flags: ClientFlags) => {
    const { name, version } = parsePolicyRef(ref, "<ref>");
    const query = version === undefined ? "" : `?version=${version}`;
    const shown = await clientFrom(flags).get<PolicyShowJson>(
      `/api/v1/policies/${encodeURIComponent(name)}${query}`,
    );
    if (flags.json) return printJson(shown);
    printFields([
      ["name", shown.name],
      ["version", `${shown.version} of ${shown.versions.length}`],
      ["sha256", shown.hash],
      ["author", shown.author],
      ["created", shown.createdAt],
    ]);
    process.stdout.write(`---\n${shown.content.endsWith("\n") ? shown.content : `${shown.content}\n`}`);
  });
}

/** The `--json` shape of `policy show`. */
export interface PolicyShowJson extends PolicyVersionInfo {
  content: string;
  policy: Record<string, unknown>;
  versions: PolicyVersionInfo[];
}

/** The `--json` shape of `policy use`. */
export interface UseJson {
  purpose: string;
  name: string;
  version: number;
  hash: string;
  previous: string | null;
  changed: boolean;
}

/** Sends a policy file to the server to store (admins only); the answer says what it changed. */
async function applyPolicyFile(client: ApiClient, file: string): Promise<AppliedPolicy> {
  const content = await readPolicyText(file);
  return client.post<AppliedPolicy>("/api/v1/policies", { content, file });
}

async function storedSide(client: ApiClient, name: string, version?: number): Promise<DiffSide> {
  const query = version === undefined ? "" : `?version=${version}`;
  const shown = await client.get<PolicyShowJson>(`/api/v1/policies/${encodeURIComponent(name)}${query}`);
  return {
    label: `${shown.name}@${shown.version}`,
    content: shown.content,
    policy: loadPolicy(shown.content, `${shown.name}@${shown.version}`, {
      webhooks: null,
      consistency: false,
    }),
  };
}

/**
 * `policy diff REF [FILE]`: FILE against the stored REF (a name absent from the store diffs against
 * nothing); without FILE, REF's version against the one before it.
 */
async function policyDiff(client: ApiClient, ref: string, file?: string): Promise<PolicyDiff> {
  const { name, version } = parsePolicyRef(ref, "<ref>");
  if (file !== undefined) {
    const content = await readPolicyText(file);
    // The same checks as apply (webhook destinations are the server's to judge).
    const after = { label: file, content, policy: loadPolicy(content, file, { webhooks: null }) };
    let before: DiffSide | null = null;
    try {
      before = await storedSide(client, name, version);
    } catch (err) {
      if (!isAppError(err) || err.code !== "not_found" || version !== undefined) throw err;
    }
    return diffPolicies(before, after);
  }
  const after = await storedSide(client, name, version);
  const at = Number(after.label.slice(after.label.lastIndexOf("@") + 1));
  return diffPolicies(at > 1 ? await storedSide(client, name, at - 1) : null, after);
}

/**
 * The stored version a policy file names, for `change create --policy FILE`: the latest version of the
 * file's name when its content is that version's, so an operator can pin a file an admin applied;
 * otherwise the file is applied, which only an admin may do.
 */
export async function policyRefForFile(client: ApiClient, file: string): Promise<string> {
  const content = await readPolicyText(file);
  const policy = loadPolicy(content, file);
  try {
    const latest = await client.get<PolicyVersionInfo>(`/api/v1/policies/${encodeURIComponent(policy.name)}`);
    if (latest.hash === policyContentHash(content)) return `${latest.name}@${latest.version}`;
  } catch (err) {
    if (!isAppError(err) || err.code !== "not_found") throw err;
  }
  const applied = await client.post<ApplyResult>("/api/v1/policies", { content, file });
  return `${applied.name}@${applied.version}`;
}

/** Adds `autopatch policy …` to the program and returns the `policy` command for more subcommands. */
export function registerPolicyCommand(program: Command): Command {
  return createPolicyCommand(program);
}
