import { describe, expect, it } from "vitest";
import type { Store } from "../../store/store.js";
import { subscribe, wakeAsset } from "./wakeups.js";

// Wake-ups are keyed by the store object only: any object stands in for one here.
const store = {} as Store;

describe("wake-ups", () => {
  it("wakes the waiting poll of the asset at once, and only that asset's", async () => {
    const a = subscribe(store, "a");
    const b = subscribe(store, "b");
    const t0 = Date.now();
    const waits = [
      a.wait(5000).then((woken) => ({ woken, ms: Date.now() - t0 })),
      b.wait(100).then((woken) => ({ woken, ms: Date.now() - t0 })),
    ];
    wakeAsset(store, "a");
    const [aEnd, bEnd] = await Promise.all(waits);
    expect(aEnd?.woken).toBe(true);
    expect(aEnd?.ms).toBeLessThan(50);
    // Ended by its timeout: not a wake-up.
    expect(bEnd?.woken).toBe(false);
    expect(bEnd?.ms).toBeGreaterThanOrEqual(90);
    a.dispose();
    b.dispose();
  });

  it("remembers a wake that came before the wait, and ends on abort", async () => {
    const w = subscribe(store, "c");
    wakeAsset(store, "c");
    const t0 = Date.now();
    expect(await w.wait(5000)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(50);
    const abort = new AbortController();
    const waiting = w.wait(5000, abort.signal);
    abort.abort();
    expect(await waiting).toBe(false);
    expect(Date.now() - t0).toBeLessThan(100);
    w.dispose();
    // Disposed: a wake reaches nobody and throws nothing.
    wakeAsset(store, "c");
  });
});
