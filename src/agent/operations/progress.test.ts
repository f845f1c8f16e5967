import { setTimeout as sleep } from "node:timers/promises";
import { expect, it } from "vitest";
import type { OperationStep } from "../../rollout/model.js";
import { ProgressReporter } from "./progress.js";

function recorder() {
  const sent: OperationStep[] = [];
  return { sent, send: async (step: OperationStep) => void sent.push(step) };
}

it("sends nothing for an operation that ends before the delay", async () => {
  const { sent, send } = recorder();
  const progress = new ProgressReporter(send, 50);
  await progress.report("snapshotting");
  await progress.report("applying");
  await progress.report("verifying");
  await progress.finish();
  await sleep(80);
  expect(sent).toEqual([]);
});

it("sends the newest step once the delay has passed, then each new one, never after finish", async () => {
  const { sent, send } = recorder();
  const progress = new ProgressReporter(send, 20);
  await progress.report("snapshotting");
  await progress.report("applying");
  await sleep(50);
  expect(sent).toEqual(["applying"]);
  await progress.report("applying");
  await progress.report("verifying");
  await progress.finish();
  await progress.report("verifying");
  expect(sent).toEqual(["applying", "verifying"]);
});

it("waits in finish for a step in flight, so the result goes after it", async () => {
  const order: string[] = [];
  let release = () => {};
  const progress = new ProgressReporter(async (step) => {
    order.push(`start ${step}`);
    await new Promise<void>((resolve) => {
      release = resolve;
    });
    order.push(`end ${step}`);
  }, 1);
  await progress.report("applying");
  await sleep(20);
  const finished = progress.finish().then(() => order.push("finished"));
  release();
  await finished;
  expect(order).toEqual(["start applying", "end applying", "finished"]);
});
