import { describe, expect, it } from "vitest";
import { Deadline } from "./deadline.js";

describe("Deadline", () => {
  it("aborts with a TimeoutError once its time has passed", async () => {
    const deadline = new Deadline(20);
    await new Promise((resolve) => deadline.signal.addEventListener("abort", resolve));
    expect(deadline.timedOut).toBe(true);
    expect((deadline.signal.reason as Error).name).toBe("TimeoutError");
  });

  it("aborts with the caller's reason when the caller's signal aborts, and is then no timeout", () => {
    const outer = new AbortController();
    const deadline = new Deadline(10_000, outer.signal);
    outer.abort(new Error("stopping"));
    expect(deadline.signal.aborted).toBe(true);
    expect((deadline.signal.reason as Error).message).toBe("stopping");
    expect(deadline.timedOut).toBe(false);
  });

  it("starts aborted when the caller's signal already is", () => {
    const deadline = new Deadline(10_000, AbortSignal.abort(new Error("gone")));
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.timedOut).toBe(false);
  });

  it("never fires once done, and lets go of the caller's signal", async () => {
    const outer = new AbortController();
    const deadline = new Deadline(20, outer.signal);
    deadline.done();
    outer.abort();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(deadline.signal.aborted).toBe(false);
    expect(deadline.timedOut).toBe(false);
  });
});
