import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { newSecret } from "../auth/secrets.js";
import type { PlanV2 } from "../changes/plan.js";
import { formatPlanTimeline } from "../changes/plan-format.js";
import { waitForSignal } from "../cli/commands/server.js";
import { printTable } from "../cli/output.js";
import { ApiClient } from "../client/api-client.js";
import { listAll } from "../client/list-all.js";
import type { AssetWithPackages } from "../inventory/assets.js";
import { createLocalFleet, spawnAgent, stopAgents } from "../localfleet/fleet.js";
import { startServer } from "../server/start.js";
import { createLogger } from "../service/logger.js";
import { demoAdvisories } from "./advisories.js";
import { DEMO_POLICY_YAML } from "./policy.js";

/** Packages whose versions the demo shows side by side: the ones a patch run would move. */
const HIGHLIGHT = ["openssl", "libssl3", "curl", "openssh-server", "sudo", "nginx", "bash", "git"];

const say = (text: string) => process.stdout.write(`${text}\n`);

/**
 * The demo: a server on a throwaway SQLite store, three agents on private dpkg roots with real .deb
 * packages, and the fleet's inventory once every agent has reported. Runs until Ctrl-C (or, with
 * --once, exits after printing), then cleans up.
 */
async function demo(once: boolean): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "autopatch-demo-"));
  const logger = createLogger({ level: "warn" });
  const adminToken = newSecret("apt");
  let cleanup: () => Promise<void> = async () => rm(dir, { recursive: true, force: true });
  try {
    say("» building .deb packages and three private dpkg roots (stand-in hosts) …");
    const fleet = await createLocalFleet(dir, 3);

    say("» starting the server on an embedded SQLite store …");
    const server = await startServer({
      databaseUrl: `sqlite:${join(dir, "autopatch.db")}`,
      listen: "127.0.0.1:0",
      adminToken,
      config: { heartbeatIntervalMs: 5000 },
      logger,
    });
    const api = new ApiClient(server.url, adminToken);
    const enroll = await api.post<{ token: string }>("/api/v1/agent-tokens", { reusable: true });

    say("» starting three agents …");
    const agents = fleet.hosts.map((host) => spawnAgent(host, server.url, enroll.token));
    cleanup = async () => {
      await stopAgents(agents);
      await server.close();
      await rm(dir, { recursive: true, force: true });
    };

    const deadline = Date.now() + 60_000;
    let assets: AssetWithPackages[] = [];
    for (;;) {
      const listed = await listAll(api, "/api/v1/assets");
      assets = await Promise.all(listed.map((a) => api.get<AssetWithPackages>(`/api/v1/assets/${a.name}`)));
      if (assets.length === fleet.hosts.length && assets.every((a) => a.packages.length > 0)) break;
      if (Date.now() > deadline)
        throw new Error(`agents did not report within 60 s; see the logs in ${join(dir, "agents")}`);
      await sleep(300);
    }

    say("\nFleet inventory");
    printTable(assets, [
      { header: "ASSET", value: (a) => a.name },
      { header: "ENV", value: (a) => a.environment },
      { header: "GROUP", value: (a) => a.group },
      { header: "REGION", value: (a) => a.region },
      { header: "AGENT", value: (a) => a.agentStatus },
      { header: "PACKAGES", value: (a) => a.packages.length },
    ]);
    say("\nVersions of notable packages per asset");
    const names = HIGHLIGHT.filter((n) => assets.some((a) => a.packages.some((p) => p.name === n)));
    printTable(names, [
      { header: "PACKAGE", value: (n) => n },
      ...assets.map((a) => ({
        header: a.name,
        value: (n: string) => a.packages.find((p) => p.name === n)?.version ?? "–",
      })),
    ]);
    await vulnerabilities(api);
    await changeFromFindings(server.url, api);

    const verify = await api.get<{ ok: boolean; checked: number }>("/api/v1/audit/verify");
    say(`\nAudit log: ${verify.checked} events, chain ${verify.ok ? "intact" : "BROKEN"}`);

    if (once) return;
    say("\nTry the CLI against this fleet (in another terminal, from the repository):");
    say(`  export AUTOPATCH_SERVER=${server.url} AUTOPATCH_TOKEN=${adminToken}`);
    say("  npx autopatch assets list");
    say("  npx autopatch assets show demo-host-1");
    say("  npx autopatch assets list --selector 'environment=prod,group in (web)'");
    say("  npx autopatch findings list");
    say("  npx autopatch change list");
    say("  npx autopatch audit list");
    say("\nRunning until Ctrl-C …");
    await waitForSignal();
  } finally {
    say("» cleaning up …");
    await cleanup();
  }
}

interface DemoFinding {
  id: string;
  asset: { name: string };
  package: string;
  installedVersion: string;
  vulnId: string;
  fixedVersion: string | null;
  riskScore: number;
  class: string;
  dueAt: string | null;
}

/** Imports the demo's advisories and prints the prioritised findings they produce on the fleet. */
async function vulnerabilities(api: ApiClient): Promise<DemoFinding[]> {
  say(
    "\n» importing advisories: DSA-5724-1 (CVE-2024-6387, from the Debian security tracker) and three generated for the demo …",
  );
  await api.post("/api/v1/advisories/batch", { source: "demo", records: demoAdvisories(new Date()) });
  const findings: DemoFinding[] = await listAll(api, "/api/v1/findings");
  findings.sort((a, b) => b.riskScore - a.riskScore);
  say("\nFindings, highest risk first");
  printTable(findings, [
    { header: "ASSET", value: (f) => f.asset.name },
    { header: "PACKAGE", value: (f) => f.package },
    { header: "INSTALLED", value: (f) => f.installedVersion },
    { header: "VULNERABILITY", value: (f) => f.vulnId },
    { header: "FIXED", value: (f) => f.fixedVersion ?? "no fix yet" },
    { header: "RISK", value: (f) => f.riskScore.toFixed(1) },
    { header: "CLASS", value: (f) => f.class },
    { header: "DUE", value: (f) => f.dueAt ?? "next window" },
  ]);
  return findings;
}

/**
 * The change process of the SOP: apply the policy, draft a change from the riskiest finding's class,
 * submit it as an operator, approve it as a second person (an approver), and print the plan.
 */
async function changeFromFindings(url: string, admin: ApiClient): Promise<void> {
  say("\n» applying the demo policy, drafting a change from the findings, approving it as a second person …");
  await admin.post("/api/v1/policies", { content: DEMO_POLICY_YAML, file: "demo-policy.yaml" });
  const operator = new ApiClient(
    url,
    (await admin.post<{ token: string }>("/api/v1/tokens", { name: "demo-operator", role: "operator" }))
      .token,
  );
  const approver = new ApiClient(
    url,
    (await admin.post<{ token: string }>("/api/v1/tokens", { name: "demo-approver", role: "approver" }))
      .token,
  );
  const findings: DemoFinding[] = await listAll(admin, "/api/v1/findings");
  const top = findings.sort((a, b) => b.riskScore - a.riskScore)[0];
  if (!top) {
    say("no findings: nothing to change");
    return;
  }
  const drafted = await operator.post<{
    created: Array<{ id: string; package: string; version: string; assets: string[] }>;
  }>("/api/v1/changes/from-findings", {
    class: top.class,
    selector: "environment in (staging,prod)",
    policy: "demo",
  });
  const change = drafted.created.find((c) => c.package === top.package) ?? drafted.created[0];
  if (!change) {
    say("no change drafted");
    return;
  }
  await operator.post(`/api/v1/changes/${change.id}/submit`, { reason: `closes ${top.vulnId}` });
  await approver.post(`/api/v1/changes/${change.id}/approve`, { reason: "CAB review in the demo" });
  const shown = await admin.get<{ state: string }>(`/api/v1/changes/${change.id}`);
  say(
    `change ${change.id}: ${change.package} → ${change.version} on ${change.assets.join(", ")}; drafted by demo-operator, approved by demo-approver; state ${shown.state}\n`,
  );
  const plan = await admin.get<PlanV2>(`/api/v1/changes/${change.id}/plan`);
  process.stdout.write(formatPlanTimeline(plan, `${change.package} ${change.version}`));
}

demo(process.argv.includes("--once")).catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
