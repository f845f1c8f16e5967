import { z } from "zod";

/** A health check with the asset's placeholders filled in: what the host runs as it is. */
export const resolvedHealthCheckSchema = z.object({
  name: z.string(),
  http: z.string().optional(),
  expectStatus: z.number().int(),
  bodyMatch: z.string().optional(),
  command: z.array(z.string()).optional(),
  expectExit: z.number().int(),
  timeoutMs: z.number().int().positive(),
  retries: z.number().int().nonnegative(),
  intervalMs: z.number().int().nonnegative(),
});
export type ResolvedHealthCheck = z.infer<typeof resolvedHealthCheckSchema>;

/** One health check's outcome, as the host reports it. */
export const checkResultSchema = z.object({
  name: z.string(),
  ok: z.boolean(),
  tries: z.number().int(),
  detail: z.string().max(2000),
  durationMs: z.number().nonnegative(),
});
export type CheckResult = z.infer<typeof checkResultSchema>;

/** Placeholders a health check may use: the asset's fields and labels. */
export interface CheckContext {
  name: string;
  environment: string;
  group: string;
  region: string;
  labels: Record<string, string>;
}
