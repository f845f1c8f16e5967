import type { OperationStep } from "../../rollout/model.js";

/**
 * An operation's steps are reported only once it has run this long. A quick operation's result lands
 * before then and the engine walks the asset through the steps it skipped (each move with its audit
 * event), so the steps cost no round trip; a slow one still shows where it is, and renews its lease.
 */
export const PROGRESS_AFTER_MS = 2000;

/**
 * Coalesces the steps of one operation: `report` never waits on the network; the newest step is sent
 * once the delay has passed (and each later one as it comes), one request at a time, and `finish`
 * drops what is not sent yet and waits for a request in flight, so no step lands after the result.
 */
export class ProgressReporter {
  readonly #send: (step: OperationStep) => Promise<void>;
  #latest: OperationStep | null = null;
  #sent: OperationStep | null = null;
  #due = false;
  #finished = false;
  #inFlight: Promise<void> = Promise.resolve();
  readonly #timer: ReturnType<typeof setTimeout>;

  constructor(send: (step: OperationStep) => Promise<void>, delayMs = PROGRESS_AFTER_MS) {
    this.#send = send;
    this.#timer = setTimeout(() => {
      this.#due = true;
      this.#flush();
    }, delayMs);
    this.#timer.unref?.();
  }

  /** The operation is at `step` now; sent at once when the delay has passed, else perhaps never. */
  readonly report = async (step: OperationStep): Promise<void> => {
    this.#latest = step;
    if (this.#due) this.#flush();
  };

  /** The result is about to be sent: no further step goes out. */
  async finish(): Promise<void> {
    this.#finished = true;
    clearTimeout(this.#timer);
    await this.#inFlight;
  }

  #flush(): void {
    if (this.#finished || this.#latest === null || this.#latest === this.#sent) return;
    const step = this.#latest;
    this.#sent = step;
    this.#inFlight = this.#inFlight.then(() => (this.#finished ? undefined : this.#send(step)));
  }
}
