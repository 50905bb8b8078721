/** A readable sentence for a tRPC error: the field's validation message when there is one. */
export function errorMessage(error: unknown): string {
  const data = (error as { data?: { fieldErrors?: Record<string, string[] | undefined>; retryAfter?: number } }).data;
  const field = data?.fieldErrors && Object.values(data.fieldErrors).find((messages) => messages?.length)?.[0];
  if (field) return field;
  if (data?.retryAfter) return `${(error as Error).message}: try again in ${data.retryAfter}s`;
  return (error as Error).message || "Something went wrong";
}

/** The tRPC error code (`FORBIDDEN`, `NOT_FOUND`…), when the error carries one. */
export function errorCode(error: unknown): string | undefined {
  return (error as { data?: { code?: string } }).data?.code;
}
