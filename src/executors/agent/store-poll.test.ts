import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { Store } from "../../store/store.js";
import { shareStorePoll } from "./store-poll.js";
import { subscribe } from "./wakeups.js";

describe("the shared store poll", () => {
  it("looks once per interval for every waiting poll, wakes only the assets it found, stops when released", async () => {
    const store = {} as Store;
    const looks: string[][] = [];
    const lookup = async (ids: readonly string[]) => {
      looks.push([...ids].sort());
      return ["b"];
    };
    const waiters = ["a", "b", "c"].map((id) => subscribe(store, id));
    const releases = waiters.map(() => shareStorePoll(store, 30, lookup));
    const t0 = Date.now();
    const woken = await Promise.race([
      waiters[1]?.wait(5_000).then(() => "b"),
      waiters[0]?.wait(5_000).then(() => "a"),
    ]);
    expect(woken).toBe("b");
    expect(Date.now() - t0).toBeLessThan(1_000);
    await sleep(100);
    // A few intervals passed: a few looks, not three per interval.
    expect(looks.length).toBeGreaterThan(0);
    expect(looks.length).toBeLessThan(8);
    expect(looks[0]).toEqual(["a", "b", "c"]);
    for (const release of releases) release();
    for (const w of waiters) w.dispose();
    const after = looks.length;
    await sleep(100);
    expect(looks.length).toBe(after);
  });
});
