import type { Logger } from "pino";
import { dpkgInstall } from "../../dpkg/install.js";
import { waitForDpkgUnlocked } from "../../dpkg/lock.js";
import { debFields, installedVersionOf } from "../../dpkg/package-state.js";
import { admindirOf } from "../../dpkg/root-options.js";
import { schemeForEcosystem } from "../../ecosystems/registry.js";
import type { OperationStep } from "../../rollout/model.js";
import type {
  ArtifactRef,
  CheckResult,
  LeasedOperation,
  OperationResult,
  Snapshot,
} from "../../rollout/operation.js";
import { snapshotProviderFor } from "../../snapshots/index.js";
import type { SnapshotHost } from "../../snapshots/provider.js";
import { runHealthChecks } from "../../verify/run-checks.js";
import type { JournalEntry, OperationJournal } from "./journal.js";

/** How long the agent waits for another dpkg run (or one it left behind) to finish before it looks. */
const DPKG_LOCK_WAIT_MS = 120_000;

export interface RunnerDeps {
  host: SnapshotHost;
  journal: OperationJournal;
  /** Downloads an artifact and returns its path once its digest and signature are checked. */
  fetch: (ref: ArtifactRef) => Promise<string>;
  /** Tells the server which step the operation is at; best effort. */
  progress: (step: OperationStep) => Promise<void>;
  logger: Logger;
  /** Ends health checks early (the agent is stopping); the operation is then re-examined on restart. */
  signal: AbortSignal;
}

/** What the run found so far; the result is built from it at the end. */
interface Outcome {
  ok: boolean;
  installedVersion: string | null;
  snapshot?: Snapshot;
  checks: CheckResult[];
  error?: string;
}

const failed = (error: string, rest: Partial<Outcome> = {}): Outcome => ({
  ok: false,
  installedVersion: null,
  checks: [],
  error,
  ...rest,
});

function failedChecks(checks: readonly CheckResult[]): string | undefined {
  const bad = checks.filter((c) => !c.ok);
  if (bad.length === 0) return undefined;
  return `health check${bad.length > 1 ? "s" : ""} failed: ${bad.map((c) => `${c.name} (${c.detail})`).join("; ")}`;
}

/** What a package must be at after the operation (null: not installed). */
interface Expected {
  name: string;
  version: string | null;
}

const DEBIAN = schemeForEcosystem("Debian");

/** The lowest of the versions, as the planner reduces several binaries of one source on an asset. */
function lowest(versions: ReadonlyArray<string | null>): string | null {
  const present = versions.filter((v): v is string => v !== null);
  if (present.length === 0) return null;
  return present.reduce((a, b) =>
    DEBIAN.isValid(a) && DEBIAN.isValid(b) && DEBIAN.compare(b, a) < 0 ? b : a,
  );
}

/**
 * Reads every package's version back and runs the checks: the verification every action ends with.
 * The version reported is the lowest of them (the one the plan's from and to versions speak of).
 */
async function verifyHost(
  op: LeasedOperation,
  deps: RunnerDeps,
  expected: readonly Expected[] | null,
  base: Partial<Outcome> = {},
): Promise<Outcome> {
  const admindir = admindirOf(deps.host.root);
  const names = expected?.map((e) => e.name) ?? [op.payload.package];
  const found = await Promise.all(names.map((n) => installedVersionOf(admindir, n)));
  const installedVersion = lowest(found);
  const wrong = (expected ?? []).findIndex((e, i) => found[i] !== e.version);
  if (wrong >= 0) {
    const e = expected?.[wrong] as Expected;
    return failed(`${e.name} is at ${found[wrong] ?? "nothing"} on the host, not ${e.version ?? "removed"}`, {
      ...base,
      installedVersion,
    });
  }
  const checks = await runHealthChecks(op.payload.healthChecks, deps.signal);
  const error = failedChecks(checks);
  return { ...base, ok: error === undefined, installedVersion, checks, ...(error ? { error } : {}) };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function runPatch(
  op: LeasedOperation,
  deps: RunnerDeps,
  prior: JournalEntry | undefined,
): Promise<Outcome> {
  const { payload } = op;
  const artifact = payload.artifact;
  if (!artifact) return failed("the patch operation names no artifact");
  const toVersion = payload.toVersion ?? artifact.version;
  const admindir = admindirOf(deps.host.root);

  if (prior?.installing) {
    // The agent stopped after it began changing the host: look at what is there, and never install
    // a second time for this key.
    await waitForDpkgUnlocked(admindir, { timeoutMs: DPKG_LOCK_WAIT_MS, signal: deps.signal });
    const snapshot = prior.installing.snapshot;
    const base = snapshot ? { snapshot } : {};
    const names = snapshot ? snapshot.packages.map((p) => p.name) : [payload.package];
    for (const name of names) {
      const version = await installedVersionOf(admindir, name);
      if (version !== toVersion) {
        return failed(
          `the agent stopped during this install and ${name} is at ${version ?? "nothing"}, not ` +
            `${toVersion}; it does not install twice for one operation`,
          { ...base, installedVersion: version },
        );
      }
    }
    await deps.progress("verifying");
    return verifyHost(
      op,
      deps,
      names.map((name) => ({ name, version: toVersion })),
      base,
    );
  }

  await deps.progress("snapshotting");
  // The artifact comes first: the snapshot needs to know which package it replaces.
  const path = await deps.fetch(artifact);
  const fields = await debFields(path);
  if (fields.name !== payload.package || fields.version !== toVersion) {
    return failed(
      `the artifact holds ${fields.name} ${fields.version}, but the operation installs ${payload.package} ${toVersion}`,
    );
  }
  // The other binaries of the source go in the same dpkg call, those the host has installed only: the
  // change patches what is there and adds nothing.
  const files: Array<{ name: string; path: string }> = [{ name: fields.name, path }];
  for (const ref of payload.alsoArtifacts ?? []) {
    const alsoPath = await deps.fetch(ref);
    const also = await debFields(alsoPath);
    if (also.name !== ref.package || also.version !== toVersion) {
      return failed(
        `the artifact ${ref.fileName} holds ${also.name} ${also.version}, but the operation installs ${ref.package} ${toVersion}`,
      );
    }
    files.push({ name: also.name, path: alsoPath });
  }
  const present = await Promise.all(
    files.map(async (f) => (await installedVersionOf(admindir, f.name)) !== null),
  );
  const chosen = files.filter((_f, i) => present[i]);
  const install = chosen.length > 0 ? chosen : files.slice(0, 1);
  const paths = install.map((f) => f.path);
  // Another dpkg run (apt, unattended-upgrades) may be changing this package: snapshot what it leaves.
  await waitForDpkgUnlocked(admindir, { timeoutMs: DPKG_LOCK_WAIT_MS, signal: deps.signal });
  let snapshot: Snapshot | undefined;
  try {
    snapshot = await snapshotProviderFor(payload.snapshotProvider).take(deps.host, {
      artifactPath: path,
      artifactPaths: paths,
      available: payload.rollbackArtifacts,
      fetch: deps.fetch,
    });
  } catch (err) {
    if (payload.snapshotRequired) return failed(`no snapshot, so nothing was installed: ${messageOf(err)}`);
    deps.logger.warn(
      { key: op.key, err: messageOf(err) },
      "snapshot failed; installing without one as allowed",
    );
  }
  const base = snapshot ? { snapshot } : {};

  await deps.journal.append({
    type: "installing",
    key: op.key,
    ...base,
    at: new Date().toISOString(),
  });
  await deps.progress("applying");
  try {
    await dpkgInstall(deps.host.root, paths);
  } catch (err) {
    const version = await installedVersionOf(admindir, payload.package).catch(() => null);
    return failed(`dpkg could not install ${install.map((f) => f.name).join(", ")}: ${messageOf(err)}`, {
      ...base,
      installedVersion: version,
    });
  }
  await deps.progress("verifying");
  return verifyHost(
    op,
    deps,
    install.map((f) => ({ name: f.name, version: toVersion })),
    base,
  );
}

/**
 * What a verification expects: the change's package and each other binary the host has installed at
 * the target version (the patch installed those only); the package itself when none is there.
 */
async function verifyExpected(op: LeasedOperation, deps: RunnerDeps, toVersion: string): Promise<Expected[]> {
  const names = [op.payload.package, ...(op.payload.alsoArtifacts ?? []).map((a) => a.package)];
  const admindir = admindirOf(deps.host.root);
  const present: Expected[] = [];
  for (const name of names) {
    if ((await installedVersionOf(admindir, name)) !== null) present.push({ name, version: toVersion });
  }
  return present.length > 0 ? present : [{ name: op.payload.package, version: toVersion }];
}

/** True when every package of the snapshot is at its recorded version. */
async function atSnapshot(root: string, snapshot: Snapshot): Promise<boolean> {
  for (const pkg of snapshot.packages) {
    if ((await installedVersionOf(admindirOf(root), pkg.name)) !== pkg.version) return false;
  }
  return true;
}

/**
 * The snapshot this host took before the install a revert undoes, from its journal: a patch whose agent
 * died mid-install is declared lost and never reported it, so the server's revert cannot carry it.
 * Keys are `<change>/<asset>/<action>/<attempt>`; a revert undoes the patch of its own attempt.
 */
function journaledSnapshot(journal: OperationJournal, revertKey: string): Snapshot | undefined {
  const parts = revertKey.split("/");
  if (parts.length < 4 || parts.at(-2) !== "revert") return undefined;
  parts[parts.length - 2] = "patch";
  return journal.entry(parts.join("/"))?.installing?.snapshot;
}

async function runRevert(
  op: LeasedOperation,
  deps: RunnerDeps,
  prior: JournalEntry | undefined,
): Promise<Outcome> {
  const snapshot = op.payload.snapshot ?? journaledSnapshot(deps.journal, op.key);
  if (!snapshot) {
    // Nothing was snapshotted because nothing was installed: a host still at the pre-patch version
    // needs no restore, only the checks.
    const version = await installedVersionOf(admindirOf(deps.host.root), op.payload.package);
    if (op.payload.toVersion !== undefined && version === op.payload.toVersion) {
      await deps.progress("reverting");
      return verifyHost(op, deps, [{ name: op.payload.package, version }]);
    }
    return failed("the revert operation carries no snapshot to return to", { installedVersion: version });
  }
  const expected: Expected[] = snapshot.packages.map((p) => ({ name: p.name, version: p.version }));
  if (prior?.installing) {
    await waitForDpkgUnlocked(admindirOf(deps.host.root), {
      timeoutMs: DPKG_LOCK_WAIT_MS,
      signal: deps.signal,
    });
    if (!(await atSnapshot(deps.host.root, snapshot))) {
      const version = await installedVersionOf(admindirOf(deps.host.root), op.payload.package);
      return failed(
        `the agent stopped during this restore and ${op.payload.package} is at ${version ?? "nothing"}, not ` +
          `its snapshot's ${snapshot.packages.map((p) => `${p.name} ${p.version ?? "removed"}`).join(", ")}; it does not restore twice for one operation`,
        { installedVersion: version },
      );
    }
    return verifyHost(op, deps, expected);
  }
  await deps.progress("reverting");
  await deps.journal.append({ type: "installing", key: op.key, snapshot, at: new Date().toISOString() });
  try {
    await snapshotProviderFor(snapshot.provider).restore(deps.host, snapshot, deps.fetch);
  } catch (err) {
    const version = await installedVersionOf(admindirOf(deps.host.root), op.payload.package).catch(
      () => null,
    );
    return failed(`the restore failed: ${messageOf(err)}`, { installedVersion: version });
  }
  return verifyHost(op, deps, expected);
}

/**
 * Runs one leased operation on this host, at most once per idempotency key: a key the journal has
 * finished is answered from it (`replayed: true`); a key it has only started is re-examined. Resolves
 * with the result to report; rejects only when `deps.signal` aborts (the result is then unknown).
 */
export async function runOperation(op: LeasedOperation, deps: RunnerDeps): Promise<OperationResult> {
  const prior = deps.journal.entry(op.key);
  if (prior?.result) return { ...prior.result, replayed: true };
  const startedAt = new Date().toISOString();
  if (!prior?.started) {
    await deps.journal.append({ type: "started", key: op.key, id: op.id, action: op.action, at: startedAt });
  }
  let outcome: Outcome;
  try {
    if (op.action === "patch") outcome = await runPatch(op, deps, prior);
    else if (op.action === "revert") outcome = await runRevert(op, deps, prior);
    else {
      const toVersion = op.payload.toVersion;
      outcome = await verifyHost(
        op,
        deps,
        toVersion === undefined ? null : await verifyExpected(op, deps, toVersion),
      );
    }
  } catch (err) {
    if (deps.signal.aborted) throw deps.signal.reason;
    outcome = failed(messageOf(err));
  }
  const result: OperationResult = {
    ok: outcome.ok,
    installedVersion: outcome.installedVersion,
    ...(outcome.snapshot ? { snapshot: outcome.snapshot } : {}),
    checks: outcome.checks,
    ...(outcome.error === undefined ? {} : { error: outcome.error.slice(0, 4000) }),
    replayed: false,
    startedAt,
    finishedAt: new Date().toISOString(),
  };
  await deps.journal.append({ type: "finished", key: op.key, result, at: result.finishedAt });
  return result;
}
