import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { newSecret } from "../auth/secrets.js";
import type { PlanV2 } from "../changes/plan.js";
import { formatPlanTimeline } from "../changes/plan-format.js";
import { printIncident } from "../cli/commands/incident.js";
import { waitForSignal } from "../cli/commands/server.js";
import { formatAge } from "../cli/output/time.js";
import { printTable } from "../cli/output.js";
import { ApiClient } from "../client/api-client.js";
import { listAll } from "../client/list-all.js";
import type { AssetWithPackages } from "../inventory/assets.js";
import type { IncidentView } from "../rollout/incident-commands.js";
import { startServer } from "../server/start.js";
import { createLogger } from "../service/logger.js";
import { startTestFleet } from "../testfleet/harness.js";
import { FLEET_PACKAGE } from "../testfleet/packages.js";
import { demoAdvisories } from "./advisories.js";
import { DEMO_POLICY_YAML } from "./policy.js";
import { type DemoRollout, followRollout } from "./progress.js";

const say = (text: string) => process.stdout.write(`${text}\n`);

/** The demo fleet: staging and production, two groups, two regions. */
const HOSTS = 8;

/**
 * The demo: a server on a throwaway SQLite store and a test fleet of eight hosts (each a private
 * dpkg root with a real .deb installed, a small service whose health follows the installed version,
 * and a real agent process). It imports an advisory, shows the findings, rolls the fix out
 * canary-first with live progress, then rolls out a bad patch that the canary catches and that is
 * rolled back by itself, and shows the incident. Runs until Ctrl-C (or, with --once, exits at the end).
 */
async function demo(once: boolean): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "autopatch-demo-"));
  const adminToken = newSecret("apt");
  let cleanup: () => Promise<void> = async () => rm(dir, { recursive: true, force: true });
  try {
    say("» starting the server on an embedded SQLite store …");
    const server = await startServer({
      databaseUrl: `sqlite:${join(dir, "autopatch.db")}`,
      listen: "127.0.0.1:0",
      adminToken,
      // Agents heartbeat every second and the engine looks every 200 ms: the demo's pace, not production's.
      config: { heartbeatIntervalMs: 1000, enginePassMs: 200 },
      logger: createLogger({ level: "warn" }),
    });
    cleanup = async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    };
    say(
      `» building .deb packages and ${HOSTS} stand-in hosts (private dpkg roots, a service each, an agent process each) …`,
    );
    const fleet = await startTestFleet({
      dir: join(dir, "fleet"),
      hosts: HOSTS,
      groups: ["web", "api"],
      regions: ["eu-west", "us-east"],
      environments: ["staging", "prod"],
      server: { url: server.url, adminToken },
    });
    cleanup = async () => {
      await fleet.stop();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    };
    const api = new ApiClient(server.url, adminToken);
    const assets = await Promise.all(
      fleet.hosts.map((h) => api.get<AssetWithPackages>(`/api/v1/assets/${h.name}`)),
    );
    say("\nFleet inventory");
    printTable(assets, [
      { header: "ASSET", value: (a) => a.name },
      { header: "ENV", value: (a) => a.environment },
      { header: "GROUP", value: (a) => a.group },
      { header: "REGION", value: (a) => a.region },
      { header: "AGENT", value: (a) => a.agentStatus },
      {
        header: FLEET_PACKAGE,
        value: (a) => a.packages.find((p) => p.name === FLEET_PACKAGE)?.version ?? "–",
      },
    ]);
    const findings = await vulnerabilities(api);
    const people = await changeProcess(server.url, api);
    const top = findings[0];
    if (!top?.fixedVersion) throw new Error("the demo advisory produced no finding with a fix");

    say(
      `\n» change 1: the riskiest finding (${top.vulnId}) asks for ${top.package} ${top.fixedVersion}; drafting it with the fixed .deb, approving it as a second person, and watching it roll out …`,
    );
    const good = await rollOut(api, people, {
      deb: fleet.packages.good,
      advisories: [top.vulnId],
      justification: `closes ${top.vulnId}`,
    });
    say(`change 1 ${good.state}: every host at ${fleet.packages.versions.good}`);

    say(
      `\n» change 2: ${fleet.packages.package} ${fleet.packages.versions.badHealth}, a build whose service fails its health check …`,
    );
    const bad = await rollOut(api, people, {
      deb: fleet.packages.badHealth,
      advisories: [],
      justification: "vendor hotfix (turns out broken)",
    });
    say(
      `change 2 ${bad.state}: caught at the canary and rolled back in ${bad.timeToRollbackMs ?? "?"} ms; the other hosts were never touched`,
    );
    if (bad.incidentId) await showIncident(api, bad.incidentId);

    const verify = await api.get<{ ok: boolean; checked: number }>("/api/v1/audit/verify");
    say(`\nAudit log: ${verify.checked} events, chain ${verify.ok ? "intact" : "BROKEN"}`);

    if (once) return;
    say("\nTry the CLI against this fleet (in another terminal, from the repository):");
    say(`  export AUTOPATCH_SERVER=${server.url} AUTOPATCH_TOKEN=${adminToken}`);
    say("  npx autopatch assets list");
    say("  npx autopatch rollout list");
    say(`  npx autopatch rollout show ${good.id}`);
    say("  npx autopatch incident list");
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
    "\n» importing an advisory against the fleet's package (generated for the demo: it names no real CVE) …",
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
    { header: "DUE", value: (f) => (f.dueAt ? formatAge(f.dueAt) : "next window") },
  ]);
  return findings;
}

interface People {
  operator: ApiClient;
  approver: ApiClient;
}

/** The SOP's people: the demo policy applied by the admin, an operator who drafts, an approver who approves. */
async function changeProcess(url: string, admin: ApiClient): Promise<People> {
  say("\n» applying the demo policy (staging then production, canary then waves, automatic rollback) …");
  await admin.post("/api/v1/policies", { content: DEMO_POLICY_YAML, file: "demo-policy.yaml" });
  const token = async (name: string, role: string) =>
    new ApiClient(url, (await admin.post<{ token: string }>("/api/v1/tokens", { name, role })).token);
  return {
    operator: await token("demo-operator", "operator"),
    approver: await token("demo-approver", "approver"),
  };
}

/**
 * One change through the SOP: the operator uploads the .deb to the signed artifact store and drafts
 * the change, submits it; the approver approves; the engine starts it at once (the policy announces
 * nothing ahead) and the demo follows it to its end.
 */
async function rollOut(
  admin: ApiClient,
  people: People,
  input: { deb: string; advisories: string[]; justification: string },
): Promise<DemoRollout> {
  const artifact = await people.operator.upload<{
    sha256: string;
    fileName: string;
    package: string;
    version: string;
  }>("/api/v1/artifacts", await readFile(input.deb), "application/vnd.debian.binary-package");
  const change = await people.operator.post<{ id: string }>("/api/v1/changes", {
    package: artifact.package,
    version: artifact.version,
    artifact: { name: artifact.fileName, sha256: artifact.sha256 },
    selector: "environment in (staging,prod)",
    policy: "demo",
    justification: input.justification,
    advisories: input.advisories,
  });
  await people.operator.post(`/api/v1/changes/${change.id}/submit`, { reason: input.justification });
  await people.approver.post(`/api/v1/changes/${change.id}/approve`, { reason: "CAB review in the demo" });
  const plan = await admin.get<PlanV2>(`/api/v1/changes/${change.id}/plan`);
  process.stdout.write(formatPlanTimeline(plan, `${artifact.package} ${artifact.version}`));
  let rolloutId: string | null = null;
  for (let i = 0; i < 100 && rolloutId === null; i++) {
    rolloutId =
      (await admin.get<{ rolloutId?: string | null }>(`/api/v1/changes/${change.id}`)).rolloutId ?? null;
    if (rolloutId === null) await sleep(100);
  }
  if (rolloutId === null) throw new Error(`change ${change.id} did not start`);
  say(`change ${change.id} approved by demo-approver; rollout ${rolloutId}:`);
  return followRollout(admin, rolloutId, say);
}

async function showIncident(api: ApiClient, id: string): Promise<void> {
  say(`\nIncident ${id}, as \`autopatch incident show ${id}\` prints it:`);
  printIncident(await api.get<IncidentView>(`/api/v1/incidents/${id}`));
}

demo(process.argv.includes("--once")).catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
