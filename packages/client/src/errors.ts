import type { CredentialsEnded } from "./client";

/** Base class of every error the client raises on purpose; `message` is fit to show a person. */
export class PlauderClientError extends Error {
  override name = "PlauderClientError";
}

/** The server refused the email and password (or the token). */
export class InvalidCredentialsError extends PlauderClientError {
  override name = "InvalidCredentialsError";
}

/** The server throttled the request; try again after `retryAfterSeconds`. */
export class RateLimitedError extends PlauderClientError {
  override name = "RateLimitedError";
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** Nothing answered at the URL, or something that is not a Plauder server did. */
export class ServerUnreachableError extends PlauderClientError {
  override name = "ServerUnreachableError";
}

/** The server ended the fixed token this client was given (logged out or expired); sign in again. */
export class CredentialsEndedError extends PlauderClientError {
  override name = "CredentialsEndedError";
  constructor(readonly ended: CredentialsEnded) {
    super(`The server ended this token (${ended.reason || `close ${ended.code}`}); sign in again`);
  }
}
