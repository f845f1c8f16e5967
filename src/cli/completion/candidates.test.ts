import { Argument, Command, Option } from "commander";
import { describe, expect, it } from "vitest";
import { completionCandidates, type NameSource } from "./candidates.js";

function program(): Command {
  const root = new Command("autopatch");
  const assets = root.command("assets");
  assets.command("list").option("--selector <s>").option("--json");
  assets.command("show <name>").option("--server <url>");
  const rollout = root.command("rollout");
  rollout.command("show <id>");
  rollout.command("skip <id> <asset>");
  root.command("secret", { hidden: true });
  root
    .command("completion")
    .addArgument(new Argument("<shell>").choices(["bash", "zsh", "fish"]))
    .addOption(new Option("-o, --output <f>").choices(["json", "yaml"]));
  return root;
}

const asked: Array<[string, Record<string, string>]> = [];
const names: NameSource = async (kind, flags) => {
  asked.push([kind, { ...flags }]);
  return kind === "assets" ? ["web-1", "web-2", "db-1"] : ["ro-1a2b", "ro-3c4d"];
};

describe("completionCandidates", () => {
  it.each<[string[], string[]]>([
    [[""], ["assets", "rollout", "completion"]],
    [["as"], ["assets"]],
    [
      ["assets", ""],
      ["list", "show"],
    ],
    [
      ["assets", "list", "--"],
      ["--selector", "--json", "--help"],
    ],
    [["assets", "list", "--selector", ""], []],
    [
      ["assets", "show", "web"],
      ["web-1", "web-2"],
    ],
    [["assets", "show", "web-1", ""], []],
    [
      ["rollout", "show", ""],
      ["ro-1a2b", "ro-3c4d"],
    ],
    [["rollout", "skip", "ro-1a2b", "d"], ["db-1"]],
    [
      ["completion", ""],
      ["bash", "zsh", "fish"],
    ],
    [
      ["completion", "-o", ""],
      ["json", "yaml"],
    ],
    [["completion", "--output=json", "z"], ["zsh"]],
    [["nothing", ""], []],
  ])("%j → %j", async (words, expected) => {
    expect(await completionCandidates(program(), words, names)).toEqual(expected);
  });

  it("hands the command line's --server to the name lookup", async () => {
    asked.length = 0;
    await completionCandidates(program(), ["assets", "show", "--server", "http://h:1", ""], names);
    expect(asked).toEqual([["assets", { server: "http://h:1" }]]);
  });
});
