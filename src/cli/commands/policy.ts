import { Command } from "commander";
import { defaultPolicyYaml } from "../../policy/default-policy.js";
import { type PolicyIssue, type PolicyValidation, validatePolicy } from "../../policy/loader.js";
import { readPolicyText } from "../../policy/policy-file.js";
import { policyJsonSchema } from "../../policy/schema.js";
import { printJson } from "../output.js";

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
    "Policy files: validate them, print the JSON Schema or the built-in default policy",
  );

  policy
    .command("validate")
    .description("Check a policy file; prints FILE:line:col: message per problem, exit code 2 when invalid")
    .argument("<file>", "policy YAML file")
    .option("--json", "print {ok, errors:[{line, column, path, message}]}")
    .action(async (file: string, opts: { json?: boolean }) => {
      const result = validatePolicy(await readPolicyText(file), file);
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

  return policy;
}

/** Adds `autopatch policy …` to the program and returns the `policy` command for more subcommands. */
export function registerPolicyCommand(program: Command): Command {
  return createPolicyCommand(program);
}
