import { Command } from "commander";
import type { ApiClient } from "../../client/api-client.js";
import { listAll } from "../../client/list-all.js";
import { isAppError } from "../../domain/errors.js";
import { defaultPolicyYaml } from "../../policy/default-policy.js";
import {
  loadPolicy,
  type PolicyIssue,
  type PolicyValidation,
  policyContentHash,
  validatePolicy,
} from "../../policy/loader.js";
import { readPolicyText } from "../../policy/policy-file.js";
import { policyJsonSchema } from "../../policy/schema.js";
import { type ApplyResult, type PolicyVersionInfo, parsePolicyRef } from "../../policy/store.js";
import { parseWebhookAllowList } from "../../policy/webhook-destination.js";
import {
  type ClientFlags,
  clientFrom,
  collectList,
  webhookAllowEntries,
  withClientFlags,
} from "../common.js";
import { printFields, printJson, printTable } from "../output.js";
import { addProposalCommands } from "./policy-proposals.js";

/** The `--json` shape of `policy validate`. */
export interface ValidateJson {
  ok: boolean;
  errors: PolicyIssue[];
}

/** `FILE:line:col: message` per issue, as compilers print them (editors jump to the location). */
export function validationLines(file: string, result: PolicyValidation): string[] {
  if (result.ok) return [];
  return result.errors.map((e) => `${file}:${e.line}:${e.column}: ${e.message}`);
}

export function validationJson(result: PolicyValidation): ValidateJson {
  return result.ok
    ? { ok: true, errors: [] }
    : {
        ok: false,
        errors: result.errors.map(({ line, column, path, message }) => ({ line, column, path, message })),
      };
}

/**
 * Creates the `policy` command with `validate`, `schema` and `default`. Pass the program so the command
 * inherits its settings (exitOverride, help after errors); the returned command takes more subcommands.
 */
export function createPolicyCommand(parent?: Command): Command {
  const policy = (parent ? parent.command("policy") : new Command("policy")).description(
    "Policy files: validate them, print the JSON Schema or the built-in default policy; apply, list and show stored versions",
  );

  policy
    .command("validate")
    .description("Check a policy file; prints FILE:line:col: message per problem, exit code 2 when invalid")
    .argument("<file>", "policy YAML file")
    .option("--json", "print {ok, errors:[{line, column, path, message}]}")
    .option(
      "--webhook-allow <cidr|host>",
      "a private or loopback webhook destination the server allows; repeatable (default $AUTOPATCH_WEBHOOK_ALLOW)",
      collectList,
    )
    .action(async (file: string, opts: { json?: boolean; webhookAllow?: string[] }) => {
      // The same checker as apply and planning, under the allow-list the server would use.
      const webhooks = parseWebhookAllowList(webhookAllowEntries(opts.webhookAllow));
      const result = validatePolicy(await readPolicyText(file), file, { webhooks });
      if (opts.json) printJson(validationJson(result));
      else if (result.ok) process.stdout.write(`${file}: valid\n`);
      else process.stderr.write(`${validationLines(file, result).join("\n")}\n`);
      // The problems are the output, so they are not thrown again as one error; only the exit code is set.
      if (!result.ok) process.exitCode = 2;
    });

  policy
    .command("schema")
    .description("Print the JSON Schema of policy files")
    .action(() => printJson(policyJsonSchema()));

  policy
    .command("default")
    .description("Print the built-in default policy (the patching SOP) as YAML")
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
    process.stdout.write(
      `${result.created ? "applied" : "unchanged"}: ${result.name}@${result.version} (sha256 ${result.hash.slice(0, 12)})\n`,
    );
  });

  withClientFlags(
    policy.command("list").description("List stored policies with their latest version"),
  ).action(async (flags: ClientFlags) => {
    const list = await listAll(clientFrom(flags), "/api/v1/policies");
    if (flags.json) return printJson(list);
    printTable(list, [
      { header: "NAME", value: (p) => p.name },
      { header: "VERSION", value: (p) => p.version },
      { header: "VERSIONS", value: (p) => p.versions },
      { header: "AUTHOR", value: (p) => p.author },
      { header: "CREATED", value: (p) => p.createdAt },
      { header: "SHA256", value: (p) => p.hash.slice(0, 12) },
    ]);
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

/** Sends a policy file to the server to store (admins only). */
export async function applyPolicyFile(client: ApiClient, file: string): Promise<ApplyResult> {
  const content = await readPolicyText(file);
  return client.post<ApplyResult>("/api/v1/policies", { content, file });
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
