import type { FastifyInstance } from "fastify";
import { MAX_ARTIFACT_BYTES } from "../artifacts/artifact.js";

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Routes not listed below take this: requests that carry a few fields, a justification or a list of
 * ids. A body is buffered whole before it is parsed, so each limit is what one request may cost.
 */
export const DEFAULT_BODY_LIMIT = 256 * KiB;

/**
 * Each route's body limit, sized to the largest legitimate request. Keyed by method and route pattern;
 * a route may also set its own `bodyLimit`, which wins.
 */
export const BODY_LIMITS: Readonly<Record<string, number>> = {
  // Unauthenticated callers reach enrollment only with a valid enrollment token; a name and placement.
  "POST /api/v1/agent/enroll": 64 * KiB,
  "POST /api/v1/agent/heartbeat": 4 * KiB,
  // Up to 200,000 packages per report, as the agent protocol allows.
  "PUT /api/v1/agent/inventory": 64 * MiB,
  "PATCH /api/v1/agent/inventory": 64 * MiB,
  // SBOMs of large images run to tens of megabytes.
  "POST /api/v1/inventory/import": 64 * MiB,
  // Up to 5,000 OSV records a batch; some records are hundreds of kilobytes.
  "POST /api/v1/advisories/batch": 64 * MiB,
  // CISA's KEV catalog is about 1.3 MB and grows slowly.
  "POST /api/v1/advisories/kev": 16 * MiB,
  // FIRST's daily EPSS CSV covers every CVE: about 10 MB.
  "POST /api/v1/advisories/epss": 32 * MiB,
  // A policy file is at most 1,000,000 characters; JSON escaping of its lines and quotes adds some.
  "POST /api/v1/policies": 2 * MiB,
  // A package file, as its raw bytes.
  "POST /api/v1/artifacts": MAX_ARTIFACT_BYTES,
  // Health check details are bounded (2,000 characters each); a snapshot lists the packages changed.
  "POST /api/v1/agent/operations/:id/result": 1 * MiB,
  "POST /api/v1/agent/operations/:id/progress": 4 * KiB,
};

/** Gives every route registered after this call its limit from BODY_LIMITS (or keeps its own). */
export function applyBodyLimits(app: FastifyInstance): void {
  app.addHook("onRoute", (route) => {
    if (route.bodyLimit !== undefined) return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const limits = methods
      .map((method) => BODY_LIMITS[`${method} ${route.url}`])
      .filter((limit): limit is number => limit !== undefined);
    if (limits.length > 0) route.bodyLimit = Math.max(...limits);
  });
}
