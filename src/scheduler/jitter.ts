/** How far a loop's waits stray from its interval by default: ±10 %. */
export const DEFAULT_JITTER = 0.1;

/**
 * The wait before a loop's next pass: its interval moved by up to ±`jitter` of itself, so replicas
 * (and loops) started together do not all hit the store at the same instant, pass after pass.
 */
export function jitteredDelay(
  intervalMs: number,
  jitter: number = DEFAULT_JITTER,
  random: () => number = Math.random,
): number {
  const spread = Math.min(Math.max(jitter, 0), 1);
  const draw = Math.min(Math.max(random(), 0), 1);
  return Math.max(0, Math.round(intervalMs * (1 + spread * (2 * draw - 1))));
}
