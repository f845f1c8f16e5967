import { homedir } from "node:os";
import { basename, dirname, extname, join, resolve } from "node:path";

export interface AuditLocations {
  /** The ed25519 signing key (PKCS#8 PEM, mode 0600). */
  keyFile: string;
  /** Signed checkpoints, one JSON line each, appended. */
  checkpointLog: string;
}

/**
 * Where the key and the checkpoint log live unless configured: beside a SQLite file (named after it,
 * so that a copy of `autopatch.db*` does not carry the key along), else in the state directory.
 */
export function defaultAuditLocations(
  databaseUrl: string,
  env: NodeJS.ProcessEnv = process.env,
): AuditLocations {
  const sqlitePath = databaseUrl.startsWith("sqlite:") ? databaseUrl.slice("sqlite:".length) : null;
  if (sqlitePath !== null && sqlitePath !== ":memory:" && sqlitePath !== "") {
    const file = resolve(sqlitePath);
    const stem = basename(file, extname(file));
    return {
      keyFile: join(dirname(file), `${stem}.audit-key.pem`),
      checkpointLog: join(dirname(file), `${stem}.audit-checkpoints.jsonl`),
    };
  }
  const state = stateDirectory(env);
  return { keyFile: join(state, "audit-key.pem"), checkpointLog: join(state, "audit-checkpoints.jsonl") };
}

/** $AUTOPATCH_STATE_DIR, else the XDG state directory. */
function stateDirectory(env: NodeJS.ProcessEnv = process.env): string {
  if (env.AUTOPATCH_STATE_DIR) return resolve(env.AUTOPATCH_STATE_DIR);
  const xdg = env.XDG_STATE_HOME ? resolve(env.XDG_STATE_HOME) : join(homedir(), ".local", "state");
  return join(xdg, "autopatch");
}

/** The configured locations, each from its environment variable when set, else the default. */
export function auditLocations(
  databaseUrl: string,
  overrides: Partial<AuditLocations> = {},
  env: NodeJS.ProcessEnv = process.env,
): AuditLocations {
  const defaults = defaultAuditLocations(databaseUrl, env);
  return {
    keyFile: resolve(overrides.keyFile ?? env.AUTOPATCH_AUDIT_KEY ?? defaults.keyFile),
    checkpointLog: resolve(
      overrides.checkpointLog ?? env.AUTOPATCH_AUDIT_CHECKPOINT_LOG ?? defaults.checkpointLog,
    ),
  };
}
