import closeWithGrace from "close-with-grace";

/** How long a shutdown may take before the process exits anyway (in-flight requests, a lease hand-back). */
const SHUTDOWN_GRACE_MS = 30_000;

interface ErrorLogger {
  error(obj: unknown, message?: string): void;
}

/**
 * Runs `close` once on SIGINT, SIGTERM or an uncaught error, then exits (status 0 on a signal, 1 on an
 * error; a second signal or the grace period running out exits at once), by close-with-grace.
 * Returns the handle so a process that ends by itself can remove the listeners.
 */
export function onShutdown(
  logger: ErrorLogger,
  close: (why: { signal?: string; err?: Error }) => Promise<void>,
): { uninstall(): void } {
  return closeWithGrace(
    {
      delay: SHUTDOWN_GRACE_MS,
      logger: { error: (message: unknown) => logger.error(message, "shutdown") },
      onTimeout: (delay) => logger.error({ delay }, "shutdown took too long, exiting"),
    },
    async ({ signal, err }) => {
      if (err) logger.error({ err }, "stopping after an uncaught error");
      await close({ ...(signal ? { signal } : {}), ...(err ? { err } : {}) });
    },
  );
}
