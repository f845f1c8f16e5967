import { describe, expect, it } from "vitest";
import { diffPolicies, formatPolicyDiff, summaryLines } from "./diff.js";
import { loadPolicy } from "./loader.js";

const side = (label: string, content: string) => ({ label, content, policy: loadPolicy(content) });

describe("diffPolicies", () => {
  const v1 = side("p@1", "name: p\nrollout:\n  phases: [{canary: 1}, {wave: 25%}, {wave: 75%}]\n");
  const v2 = side("p.yaml", "name: p\nrollout:\n  phases: [{canary: 2}, {wave: 100%}]\n  observe: 30m\n");

  it("lists the changed sections and fields, defaults included", () => {
    const diff = diffPolicies(v1, v2);
    expect(diff.from).toBe("p@1");
    expect(diff.sections).toEqual([
      {
        section: "rollout",
        changes: [
          { path: "phases[0].canary", before: 1, after: 2 },
          { path: "phases[1].wave", before: "25%", after: "100%" },
          { path: "phases[2]", before: { wave: "75%" } },
          { path: "observe", before: "15m", after: "30m" },
        ],
      },
    ]);
    expect(summaryLines(diff)).toEqual([
      "Sections changed: rollout",
      "  rollout: phases[0].canary 1 -> 2",
      '  rollout: phases[1].wave "25%" -> "100%"',
      '  rollout: phases[2] removed (was {"wave":"75%"})',
      '  rollout: observe "15m" -> "30m"',
    ]);
  });

  it("gives a unified diff of the YAML as written, headed by both labels", () => {
    const text = formatPolicyDiff(diffPolicies(v1, v2));
    expect(text.startsWith("--- p@1\n+++ p.yaml\n@@ ")).toBe(true);
    expect(text).toContain("+  observe: 30m\n");
  });

  it("a new name diffs against nothing", () => {
    const diff = diffPolicies(null, v1);
    expect(diff.from).toBeNull();
    expect(diff.unified).toContain("--- /dev/null\n");
    expect(diff.sections.map((s) => s.section)).toContain("name");
  });

  it("an equal policy written differently changes lines but not meaning", () => {
    const same = side(
      "p.yaml",
      "# reordered\nrollout:\n  phases: [{canary: 1}, {wave: 25%}, {wave: 75%}]\nname: p\n",
    );
    const diff = diffPolicies(v1, same);
    expect(diff.sections).toEqual([]);
    expect(diff.unified).not.toBe("");
    expect(summaryLines(diff)).toEqual(["No change in meaning."]);
    expect(diffPolicies(v1, { ...v1, label: "again" }).unified).toBe("");
  });
});
