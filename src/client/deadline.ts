/**
 * One abort signal for one request: it aborts when `ms` pass (with the same TimeoutError that
 * `AbortSignal.timeout` gives) or when the caller's signal aborts. It costs one controller and one
 * timer, cleared by `done()` once the answer is read; `AbortSignal.timeout` plus `AbortSignal.any`
 * cost two signals, a dependent-signal registration and a timer left running until it fires.
 */
export class Deadline {
  readonly #controller = new AbortController();
  readonly #timer: ReturnType<typeof setTimeout>;
  readonly #outer: AbortSignal | undefined;
  #timedOut = false;

  constructor(ms: number, outer?: AbortSignal) {
    this.#outer = outer;
    if (outer?.aborted) this.#controller.abort(outer.reason);
    else outer?.addEventListener("abort", this.#onOuter, { once: true });
    this.#timer = setTimeout(this.#onTimeout, ms);
    // Like AbortSignal.timeout's timer, this one alone keeps no process alive.
    this.#timer.unref?.();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The time ran out (not the caller's signal). */
  get timedOut(): boolean {
    return this.#timedOut;
  }

  /** The request is over: stop the timer and let go of the caller's signal. */
  done(): void {
    clearTimeout(this.#timer);
    this.#outer?.removeEventListener("abort", this.#onOuter);
  }

  readonly #onOuter = (): void => {
    clearTimeout(this.#timer);
    this.#controller.abort(this.#outer?.reason);
  };

  readonly #onTimeout = (): void => {
    this.#timedOut = true;
    this.#outer?.removeEventListener("abort", this.#onOuter);
    this.#controller.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError"));
  };
}
