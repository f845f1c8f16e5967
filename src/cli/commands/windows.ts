import { existsSync } from "node:fs";
import type { Command } from "commander";
import { DateTime } from "luxon";
import { ValidationError } from "../../domain/errors.js";
import { checkStart, nextWindows, type StartDecision, type WindowOccurrence } from "../../policy/calendar.js";
import { formatDuration } from "../../policy/duration.js";
import { loadPolicy } from "../../policy/loader.js";
import { formatInZone } from "../../policy/local-time.js";
import { loadPolicyFile } from "../../policy/policy-file.js";
import type { Policy } from "../../policy/schema.js";
import { parsePolicyRef } from "../../policy/store.js";
import { type ClientFlags, clientFrom, withClientFlags } from "../common.js";
import { printJson, printTable } from "../output.js";

/**
 * Reads an instant from an option: ISO 8601 with an offset or `Z` (`2026-11-28T01:00+01:00`); without an
 * offset it is UTC; `now` is the current time.
 */
export function parseInstant(text: string, option: string, now: () => Date = () => new Date()): Date {
  if (text.trim().toLowerCase() === "now") return now();
  const dt = DateTime.fromISO(text.trim(), { zone: "UTC", setZone: true });
  if (!dt.isValid) {
    throw new ValidationError(
      `${option}: ${JSON.stringify(text)} is not an ISO 8601 date-time (e.g. 2026-11-28T01:00+01:00)`,
      {
        where: option,
      },
    );
  }
  return dt.toJSDate();
}

const MAX_COUNT = 1000;

/** Reads `--count`: a whole number from 1 to MAX_COUNT. */
export function parseCount(text: string): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_COUNT) {
    throw new ValidationError(
      `--count: ${JSON.stringify(text)} must be a whole number from 1 to ${MAX_COUNT}`,
      {
        where: "--count",
      },
    );
  }
  return n;
}

export interface WindowJson {
  name: string;
  start: string;
  end: string;
}

/** The `--json` rows of `windows next`: ISO 8601 in each window's own zone. */
export function windowsJson(windows: readonly WindowOccurrence[]): WindowJson[] {
  return windows.map((w) => ({
    name: w.name,
    start: formatInZone(w.start, w.timezone),
    end: formatInZone(w.end, w.timezone),
  }));
}

export interface WindowRow extends WindowJson {
  duration: string;
}

export function windowsRows(windows: readonly WindowOccurrence[]): WindowRow[] {
  return windowsJson(windows).map((row, i) => {
    const w = windows[i];
    return { ...row, duration: w ? formatDuration(w.end.getTime() - w.start.getTime()) : "" };
  });
}

export interface CheckJson {
  allowed: boolean;
  reason: string;
  window?: string;
  freeze?: string;
}

export function checkJson(decision: StartDecision): CheckJson {
  return {
    allowed: decision.allowed,
    reason: decision.reason,
    ...(decision.window === undefined ? {} : { window: decision.window }),
    ...(decision.freeze === undefined ? {} : { freeze: decision.freeze }),
  };
}

/** `ALLOWED: …` or `DENIED: …`. */
export function checkLine(decision: StartDecision): string {
  return `${decision.allowed ? "ALLOWED" : "DENIED"}: ${decision.reason}`;
}

/**
 * Whether `--policy` names a file or a stored policy: an existing file, or anything that looks like a
 * path (a slash, a .yaml/.yml/.json ending), is a file; otherwise NAME or NAME@VERSION on the server.
 */
export function policyArgIsFile(arg: string, exists: (path: string) => boolean = existsSync): boolean {
  return exists(arg) || /[\\/]/.test(arg) || /\.(ya?ml|json)$/i.test(arg);
}

/** The policy `--policy` names: read from the file, or fetched from the server's store. */
async function resolvePolicyArg(arg: string, flags: ClientFlags): Promise<Policy> {
  if (policyArgIsFile(arg)) return loadPolicyFile(arg);
  const { name, version } = parsePolicyRef(arg, "--policy");
  const query = version === undefined ? "" : `?version=${version}`;
  const shown = await clientFrom(flags).get<{ name: string; version: number; content: string }>(
    `/api/v1/policies/${encodeURIComponent(name)}${query}`,
  );
  // A stored version was checked when it was applied; only its calendar is read here.
  return loadPolicy(shown.content, `${shown.name}@${shown.version}`, { webhooks: null, consistency: false });
}

const POLICY_OPTION = "policy YAML file, or a stored policy NAME or NAME@VERSION (read from the server)";

/** Adds `autopatch windows next|check` to the program. */
export function registerWindowsCommand(program: Command): Command {
  const windows = program
    .command("windows")
    .description(
      "Maintenance windows and freezes of a policy: the next openings, and whether a change may start",
    );

  withClientFlags(
    windows
      .command("next")
      .description("List the next maintenance windows, freezes cut out")
      .requiredOption("--policy <file|name>", POLICY_OPTION)
      .option("--from <iso>", "start looking at this instant (ISO 8601; UTC without offset; default now)")
      .option("--count <n>", "how many windows", "5"),
  ).action(async (opts: ClientFlags & { policy: string; from?: string; count: string }) => {
    const from = opts.from === undefined ? new Date() : parseInstant(opts.from, "--from");
    const count = parseCount(opts.count);
    const policy = await resolvePolicyArg(opts.policy, opts);
    const found = nextWindows(policy, from, count);
    if (opts.json) {
      printJson(windowsJson(found));
      return;
    }
    if (found.length === 0) {
      process.stdout.write(
        policy.maintenanceWindows.length === 0
          ? "The policy has no maintenance windows: changes may start at any time outside a freeze.\n"
          : "No maintenance window opens after that time.\n",
      );
      return;
    }
    printTable(windowsRows(found), [
      { header: "name", value: (r) => r.name },
      { header: "start", value: (r) => r.start },
      { header: "end", value: (r) => r.end },
      { header: "duration", value: (r) => r.duration },
    ]);
  });

  withClientFlags(
    windows
      .command("check")
      .description(
        "May a change start at this instant (default now)? Human output exits 1 when denied; --json always exits 0",
      )
      .requiredOption("--policy <file|name>", POLICY_OPTION)
      .option("--at <iso>", "the instant to check (ISO 8601; UTC without offset; default now)")
      .option(
        "--emergency",
        "an emergency change (may override a freeze with a justification and an approver)",
      )
      .option("--justification <text>", "why the emergency cannot wait")
      .option("--approver <name>", "who approved the emergency override"),
  ).action(
    async (
      opts: ClientFlags & {
        policy: string;
        at?: string;
        emergency?: boolean;
        justification?: string;
        approver?: string;
      },
    ) => {
      const at = opts.at === undefined ? new Date() : parseInstant(opts.at, "--at");
      const policy = await resolvePolicyArg(opts.policy, opts);
      const decision = checkStart(policy, at, {
        emergency: opts.emergency === true,
        ...(opts.justification === undefined ? {} : { justification: opts.justification }),
        ...(opts.approver === undefined ? {} : { approver: opts.approver }),
      });
      if (opts.json) {
        printJson(checkJson(decision));
        return;
      }
      process.stdout.write(`${checkLine(decision)}\n`);
      // Scripts can gate on the exit code: 0 allowed, 1 denied.
      if (!decision.allowed) process.exitCode = 1;
    },
  );

  return windows;
}
