/** True for a unique-key violation on either dialect (PostgreSQL's SQLSTATE or better-sqlite3's code). */
export function isUniqueViolation(err: unknown): boolean {
  const code = err !== null && typeof err === "object" && "code" in err ? String(err.code) : "";
  return code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}
