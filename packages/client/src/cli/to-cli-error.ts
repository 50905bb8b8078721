import { closeCodes } from "@plauder/api/close-codes";
import { TRPCClientError } from "@trpc/client";
import type { CredentialsEnded } from "../client";
import { CredentialsFileError } from "../credentials";
import {
  CredentialsEndedError,
  InvalidCredentialsError,
  PlauderClientError,
  RateLimitedError,
  ServerUnreachableError,
} from "../errors";
import { httpBase } from "../login";
import { CliError, exitCodes } from "./exit-codes";
import {
  notSignedInMessage,
  rateLimitedMessage,
  type ServerErrorData,
  sessionExpiredMessage,
  validationMessage,
} from "./messages";
import { type Auth, defaultUrl, type Target } from "./target";

/** Why the server ended the token a command ran with, and what to do about it. */
export function credentialsEndedError(ended: CredentialsEnded): CliError {
  const why =
    ended.code === closeCodes.notAuthenticated.code
      ? "The server did not accept the token"
      : ended.reason === closeCodes.signedOut.reason
        ? "This session was signed out"
        : "Your session expired";
  return new CliError(`${why}; run \`plauder login\` again`, exitCodes.auth);
}

/** An UNAUTHORIZED answer, told apart by where the token came from, so the advice fits. */
function unauthorized(auth: Auth | undefined, now: number): CliError {
  if (auth?.kind === "token" && auth.source === "stored") {
    if (auth.expiresAt !== undefined && auth.expiresAt <= now)
      return new CliError(sessionExpiredMessage, exitCodes.auth);
    return new CliError("The server rejected the stored token; run `plauder login` again", exitCodes.auth);
  }
  if (auth?.kind === "token") {
    const where = auth.source === "env" ? "PLAUDER_TOKEN" : "--token";
    return new CliError(
      `The server rejected the token from ${where}; run \`plauder login\` or pass a fresh one`,
      exitCodes.auth,
    );
  }
  return new CliError(notSignedInMessage, exitCodes.auth);
}

/** A tRPC error: the server's answer by its code, or, without one, a connection that went away. */
function describeServerError(
  error: { message: string; data?: unknown },
  target: Target | undefined,
  now: number,
): CliError {
  const data = (error.data ?? undefined) as ServerErrorData | undefined;
  switch (data?.code) {
    case "UNAUTHORIZED":
      return unauthorized(target?.auth, now);
    case "TOO_MANY_REQUESTS":
      if (typeof data.retryAfter === "number")
        return new CliError(rateLimitedMessage(data.retryAfter), exitCodes.rateLimited);
      return new CliError(`Rate limited: ${error.message}`, exitCodes.rateLimited);
    case "BAD_REQUEST":
      return new CliError(validationMessage(error.message, data), exitCodes.error);
    case "FORBIDDEN":
      return new CliError(error.message, exitCodes.forbidden);
    case undefined: {
      // No error data: the error is the socket's, not the server's answer.
      const url = target?.url ?? defaultUrl;
      return new CliError(`Lost the connection to the Plauder server at ${httpBase(url)}`, exitCodes.unreachable);
    }
    default:
      return new CliError(error.message, exitCodes.error);
  }
}

/** One line and an exit code for anything a command may throw. */
export function toCliError(error: unknown, target?: Target, now: number = Date.now()): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof CredentialsFileError) return new CliError(error.message, exitCodes.auth);
  if (error instanceof InvalidCredentialsError) return new CliError(error.message, exitCodes.auth);
  if (error instanceof RateLimitedError)
    return new CliError(rateLimitedMessage(error.retryAfterSeconds), exitCodes.rateLimited);
  if (error instanceof ServerUnreachableError) return new CliError(error.message, exitCodes.unreachable);
  if (error instanceof PlauderClientError) return new CliError(error.message, exitCodes.error);
  if (error instanceof TRPCClientError && error.cause instanceof CredentialsEndedError) {
    return credentialsEndedError(error.cause.ended);
  }
  if (error instanceof TRPCClientError) return describeServerError(error, target, now);
  const message = error instanceof Error ? error.message : String(error);
  return new CliError(`Unexpected error: ${message}`, exitCodes.error);
}
