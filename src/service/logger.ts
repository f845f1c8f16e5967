import { type DestinationStream, type Logger, type LoggerOptions, pino } from "pino";

/**
 * Paths that could carry a secret. Services never log tokens; this is the second line of defence
 * should a request or an error object be logged whole.
 */
const REDACT = [
  "req.headers.authorization",
  "headers.authorization",
  "authorization",
  "token",
  "credential",
  "*.token",
  "*.credential",
  "enrollToken",
];

export interface LoggerSettings {
  level?: string;
  /** Human-readable lines (default: when stderr is a TTY); JSON lines otherwise. */
  pretty?: boolean;
  destination?: DestinationStream;
}

export function createLogger(settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? process.env.AUTOPATCH_LOG_LEVEL ?? "info",
    redact: { paths: REDACT, censor: "[redacted]" },
    base: { service: "autopatch" },
  };
  if (settings.destination) return pino(options, settings.destination);
  const pretty = settings.pretty ?? process.stderr.isTTY === true;
  if (pretty) {
    return pino({
      ...options,
      transport: { target: "pino-pretty", options: { destination: 2, ignore: "pid,hostname,service" } },
    });
  }
  return pino(options, pino.destination(2));
}
