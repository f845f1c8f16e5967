import { setTimeout as sleep } from "node:timers/promises";
import type { ApiClient } from "../client/api-client.js";

/** The fields of `rollout show` the demo prints. */
export interface DemoRollout {
  id: string;
  state: string;
  stateReason: string | null;
  phases: Array<{ name: string; state: string; assets: string[] }>;
  assets: Array<{ name: string; state: string; fromVersion: string | null; toVersion: string }>;
  timeToRollbackMs: number | null;
  incidentId: string | null;
}

const TERMINAL = ["completed", "rolled-back", "failed", "aborted"];

/**
 * Follows a rollout until it ends and prints each change as it happens: the rollout's state, each
 * phase's, and each host's, with the time since the start. Polls the same view `rollout show` prints.
 */
export async function followRollout(
  api: ApiClient,
  id: string,
  say: (line: string) => void,
  timeoutMs = 120_000,
): Promise<DemoRollout> {
  const t0 = Date.now();
  const seen = new Map<string, string>();
  const stamp = () => `[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s]`;
  for (;;) {
    const r = await api.get<DemoRollout>(`/api/v1/rollouts/${id}`);
    const note = (key: string, value: string, line: string) => {
      if (seen.get(key) === value) return;
      seen.set(key, value);
      say(`${stamp()} ${line}`);
    };
    for (const p of r.phases) {
      if (p.state !== "pending") note(`phase:${p.name}`, p.state, `phase ${p.name.padEnd(22)} ${p.state}`);
      for (const name of p.assets) {
        const a = r.assets.find((x) => x.name === name);
        if (!a || a.state === "pending") continue;
        const versions =
          a.state === "reverted" ? `back at ${a.fromVersion}` : `${a.fromVersion} → ${a.toVersion}`;
        note(`asset:${name}`, a.state, `  ${name.padEnd(12)} ${a.state.padEnd(12)} ${versions}`);
      }
    }
    note("rollout", r.state, `rollout ${r.state}${r.stateReason ? ` (${r.stateReason})` : ""}`);
    if (TERMINAL.includes(r.state)) return r;
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`rollout ${id} did not end within ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}
