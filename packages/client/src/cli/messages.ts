import { httpBase } from "../login";

// The sentences a failure is reported with, shared by the places that detect it: resolving the
// credentials, describing a thrown error and watching the connection.

export const sessionExpiredMessage = "Your session expired; run `plauder login` again";

export const notSignedInMessage =
  "Not signed in; run `plauder login` (or set PLAUDER_TOKEN, or PLAUDER_EMAIL and PLAUDER_PASSWORD)";

/** Names the server by its http(s) origin, whichever form (ws, a path) it was given in. */
export function unreachableMessage(url: string, detail?: string): string {
  return `Cannot reach the Plauder server at ${httpBase(url)}${detail ? ` (${detail})` : ""}`;
}

/** The same words whether the sign-in request or a procedure was refused; each reports the wait its own way. */
export function rateLimitedMessage(seconds: number): string {
  return `Rate limited; try again in ${seconds} s`;
}

/** The shape this server's error formatter gives `error.data` (see packages/api/src/trpc.ts). */
export type ServerErrorData = {
  code?: string;
  retryAfter?: number;
  fieldErrors?: Record<string, string[] | undefined>;
};

/**
 * The human part of a validation error: tRPC puts zod's issue list, as JSON, in `message`, and the
 * server's formatter adds `fieldErrors`; both hold the sentences the server meant to show.
 */
export function validationMessage(message: string, data: ServerErrorData | undefined): string {
  const fromFields = Object.values(data?.fieldErrors ?? {}).flatMap((messages) => messages ?? []);
  if (fromFields.length > 0) return fromFields.join("; ");
  try {
    const issues: unknown = JSON.parse(message);
    if (Array.isArray(issues)) {
      const sentences = issues.flatMap((issue) => (typeof issue?.message === "string" ? [issue.message] : []));
      if (sentences.length > 0) return sentences.join("; ");
    }
  } catch {
    // Not JSON: the message is already a sentence.
  }
  return message;
}
