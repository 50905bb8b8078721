/**
 * An error as it may appear in a log line. Query builders put the SQL and its parameters into
 * their messages ("Failed query: insert … params: anna@example.com,$argon2id$…"), which would log
 * emails, password hashes and message bodies; for those, only the database's own error is kept.
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return "unknown error";
  if (error.message.startsWith("Failed query:")) {
    const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
    const code = typeof cause?.code === "string" ? `${cause.code} ` : "";
    const message = typeof cause?.message === "string" ? cause.message : "query failed";
    return `database: ${code}${message}`.slice(0, 300);
  }
  return error.message.slice(0, 300);
}
