/** What one try of a health check found: passed or not, and a line saying what was seen. */
export interface TryOutcome {
  ok: boolean;
  detail: string;
}
