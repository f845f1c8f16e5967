import { readdirSync, readFileSync } from "node:fs";

/**
 * CPU time in ms of this process's child processes and theirs (the embedded PostgreSQL: its postmaster
 * and backends), with what their exited children used; null where /proc is not there. Node reports only
 * its own process's CPU, so the database's side of a bench is read from /proc.
 */
export function childrenCpuMs(): number | null {
  try {
    const stats = readdirSync("/proc")
      .filter((d) => /^\d+$/.test(d))
      .map((d) => {
        try {
          const stat = readFileSync(`/proc/${d}/stat`, "utf8");
          const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
          // ppid is the 2nd field after the name; utime, stime, cutime, cstime the 12th to 15th.
          const ticks = [11, 12, 13, 14].reduce((t, i) => t + Number(f[i]), 0);
          return { pid: Number(d), ppid: Number(f[1]), ticks };
        } catch {
          return null;
        }
      })
      .filter((x) => x !== null);
    const mine = new Set([process.pid]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const s of stats)
        if (!mine.has(s.pid) && mine.has(s.ppid)) {
          mine.add(s.pid);
          grew = true;
        }
    }
    const ticks = stats
      .filter((s) => s.pid !== process.pid && mine.has(s.pid))
      .reduce((t, s) => t + s.ticks, 0);
    // Clock ticks of 1/100 s (USER_HZ on Linux).
    return (ticks * 1000) / 100;
  } catch {
    return null;
  }
}
