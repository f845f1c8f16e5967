/**
 * Audit append benchmark: the CPU one audit event costs, through the real append API
 * (appendAudit / appendAudits inside store.write), on SQLite and on an embedded PostgreSQL, with the
 * payloads the busiest writers append: an inventory delta report's event (one per transaction, a
 * dozen package changes in its data) and a rollout pass's transitions (eight small events per
 * transaction, one append). Also the CPU of building the hashed text and hashing it alone, without the
 * database, for the same payloads, and of an empty write transaction (`transaction`), which the
 * one-event-per-write figures include.
 *
 *   npx tsx bench/audit-append.ts [--events 4000] [--only sqlite|postgres] [--json]
 */

import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import pg from "pg";
import { type AuditInput, hashEvent } from "../src/audit/event.js";
import { appendAudit, appendAudits, verifyAuditChain } from "../src/audit/log.js";
import { openStore, type Store } from "../src/store/store.js";
import { startEmbeddedPostgres } from "../test/helpers/embedded-postgres.js";
import { childrenCpuMs } from "./process-cpu.js";

type Dialect = "sqlite" | "postgres";
type Payload = "delta" | "rollout";

/** Events per transaction of each payload: a delta report appends one, a rollout pass about eight. */
const PER_WRITE: Record<Payload, number> = { delta: 1, rollout: 8 };

interface Figures {
  events: number;
  wallMs: number;
  /** This process's CPU (user + system) per event, in µs. */
  cpuUsPerEvent: number;
  /** The embedded PostgreSQL's processes' CPU per event, in µs (null on SQLite or without /proc). */
  databaseCpuUsPerEvent: number | null;
}

/** A delta report's event, as inventory/report.ts builds it: counts and the first changes. */
function deltaInput(i: number): AuditInput {
  const changes = Array.from({ length: 12 }, (_, j) => ({
    ecosystem: "deb",
    name: `lib${(i * 7 + j) % 997}-package-name${j % 3 === 0 ? "-dev" : ""}`,
    arch: j % 4 === 0 ? "all" : "amd64",
    from: j % 5 === 4 ? null : `1.${j}.${i % 100}-${j}+deb12u${i % 9}`,
    to: j % 6 === 5 ? null : `1.${j}.${(i % 100) + 1}-${j}+deb12u${(i % 9) + 1}`,
  }));
  return {
    actor: `agent:host-${i % 2000}.example.internal`,
    action: "inventory.reported",
    targetType: "asset",
    targetId: `018f${String(i).padStart(8, "0")}-7c1e-7000-8000-000000000000`,
    data: {
      asset: `host-${i % 2000}.example.internal`,
      report: `0190${String(i).padStart(8, "0")}-7c1e-7000-8000-000000000000`,
      source: "agent",
      total: 600,
      added: 6,
      removed: 0,
      changed: 6,
      changes,
    },
  };
}

/** One rollout pass's transition events for one asset, as rollout/apply.ts appends them. */
function rolloutInputs(i: number): AuditInput[] {
  const rollout = `0191${String(i % 50).padStart(8, "0")}-7c1e-7000-8000-000000000000`;
  const asset = `host-${i}.example.internal`;
  const steps = ["leased", "applying", "applied", "verifying", "verified", "done", "released", "closed"];
  return steps.map((step, j) => ({
    actor: "system",
    action: j % 2 === 0 ? `rollout.asset.${step}` : `rollout.operation.${step}`,
    targetType: "rollout",
    targetId: rollout,
    reason: j === 7 ? null : undefined,
    data: {
      asset,
      operation: `0192${String(i * 8 + j).padStart(8, "0")}-7c1e-7000-8000-000000000000`,
      wave: i % 4,
      ...(j === 5 ? { durationMs: 1234.5, gates: { health: true, smoke: "passed" } } : {}),
    },
  }));
}

function inputsOf(payload: Payload, write: number): AuditInput[] {
  return payload === "delta" ? [deltaInput(write)] : rolloutInputs(write);
}

async function timed(events: number, dialect: Dialect | null, run: () => Promise<void>): Promise<Figures> {
  const children = dialect === "postgres" ? childrenCpuMs() : null;
  const cpu = process.cpuUsage();
  const start = performance.now();
  await run();
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  const childrenAfter = dialect === "postgres" ? childrenCpuMs() : null;
  return {
    events,
    wallMs,
    cpuUsPerEvent: (used.user + used.system) / events,
    databaseCpuUsPerEvent:
      children === null || childrenAfter === null ? null : ((childrenAfter - children) * 1000) / events,
  };
}

/** Appends `events` events of the payload, one transaction per report or per rollout pass. */
async function appendRun(store: Store, payload: Payload, events: number, offset: number): Promise<Figures> {
  const writes = Math.ceil(events / PER_WRITE[payload]);
  const prepared = Array.from({ length: writes }, (_, w) => inputsOf(payload, offset + w));
  return timed(writes * PER_WRITE[payload], store.dialect, async () => {
    for (const inputs of prepared) {
      await store.write(async (trx) => {
        if (inputs.length === 1 && inputs[0] !== undefined) await appendAudit(trx, inputs[0]);
        else await appendAudits(trx, inputs);
      });
    }
  });
}

/** Empty write transactions, one per event. */
async function emptyRun(store: Store, events: number): Promise<Figures> {
  return timed(events, store.dialect, async () => {
    for (let i = 0; i < events; i++) await store.write(async () => undefined);
  });
}

/** Building the hashed text and hashing it, as a SQLite append does, without a database. */
async function hashRun(payload: Payload, events: number): Promise<Figures> {
  const writes = Math.ceil(events / PER_WRITE[payload]);
  const prepared = Array.from({ length: writes }, (_, w) => inputsOf(payload, w)).flat();
  const at = new Date().toISOString();
  return timed(prepared.length, null, async () => {
    let prevHash = "0".repeat(64);
    for (const [seq, input] of prepared.entries()) {
      prevHash = hashEvent({
        seq: seq + 1,
        id: "0193aaaa-7c1e-7000-8000-000000000000",
        at,
        actor: input.actor,
        action: input.action,
        targetType: input.targetType,
        targetId: input.targetId,
        reason: input.reason ?? null,
        data: input.data ?? {},
        prevHash,
      });
    }
  });
}

async function openFor(dialect: Dialect): Promise<{ store: Store; dispose(): Promise<void> }> {
  if (dialect === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "autopatch-audit-bench-"));
    const store = await openStore(`sqlite:${join(dir, "bench.db")}`);
    return {
      store,
      dispose: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const server = await startEmbeddedPostgres();
  const admin = new pg.Client({ connectionString: `${server.baseUrl}/postgres` });
  await admin.connect();
  await admin.query("create database autopatch_audit_bench");
  await admin.end();
  const store = await openStore(`${server.baseUrl}/autopatch_audit_bench`);
  return {
    store,
    dispose: async () => {
      await store.close();
      await server.stop();
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      events: { type: "string", default: "4000" },
      only: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const events = Number(values.events);
  if (!Number.isInteger(events) || events < 8)
    throw new Error("--events must be a whole number of at least 8");
  const only = values.only;
  if (only !== undefined && only !== "sqlite" && only !== "postgres")
    throw new Error(`--only must be sqlite or postgres, not "${only}"`);
  const dialects: Dialect[] = only ? [only] : ["sqlite", "postgres"];
  const payloads: Payload[] = ["delta", "rollout"];
  const loadStart = loadavg();

  const results: Record<string, Record<string, Figures>> = { hash: {} };
  // Hashing alone is cheap: five times the events, after a warm-up as long, so the JIT has compiled
  // the path before it is timed.
  for (const payload of payloads) {
    await hashRun(payload, events * 5);
    (results.hash as Record<string, Figures>)[payload] = await hashRun(payload, events * 5);
  }

  for (const dialect of dialects) {
    const { store, dispose } = await openFor(dialect);
    try {
      const byPayload: Record<string, Figures> = {};
      // The write transaction alone, one per event: what a delta report's figure holds besides the append.
      await emptyRun(store, 200);
      byPayload.transaction = await emptyRun(store, events);
      let offset = 0;
      for (const payload of payloads) {
        // Warm-up writes (statements prepared, pool connected), then the measured run.
        await appendRun(store, payload, 200, offset);
        offset += 1000;
        byPayload[payload] = await appendRun(store, payload, events, offset);
        offset += events;
      }
      const verified = await verifyAuditChain(store.db);
      if (!verified.ok) throw new Error(`the chain does not verify: ${JSON.stringify(verified.broken)}`);
      results[dialect] = byPayload;
    } finally {
      await dispose();
    }
  }
  const output = { events, results, load: { start: loadStart, end: loadavg() } };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
    return;
  }
  const us = (n: number | null) => (n === null ? "-" : `${n.toFixed(1)} µs`);
  for (const [where, byPayload] of Object.entries(results)) {
    for (const [payload, f] of Object.entries(byPayload)) {
      process.stdout.write(
        `${where.padEnd(8)} ${payload.padEnd(8)} ${String(f.events).padStart(6)} events  ` +
          `${f.wallMs.toFixed(0).padStart(6)} ms wall  CPU/event ${us(f.cpuUsPerEvent).padStart(10)}` +
          (f.databaseCpuUsPerEvent === null ? "" : `  database CPU/event ${us(f.databaseCpuUsPerEvent)}`) +
          "\n",
      );
    }
  }
  process.stdout.write(
    `load ${loadStart.map((l) => l.toFixed(2)).join(" ")} → ${output.load.end.map((l) => l.toFixed(2)).join(" ")}\n`,
  );
}

await main();
