import { TRPCError } from "@trpc/server";

/** Carried as the `cause` of a TOO_MANY_REQUESTS error so the formatter can expose `retryAfter`. */
export class RetryAfter extends Error {
  constructor(readonly seconds: number) {
    super(`retry after ${seconds}s`);
    this.name = "RetryAfter";
  }
}

/** A TOO_MANY_REQUESTS error whose `data.retryAfter` tells the client how many seconds to wait. */
export function tooManyRequests(retryAfterSeconds: number, message = "Too many requests"): TRPCError {
  return new TRPCError({ code: "TOO_MANY_REQUESTS", message, cause: new RetryAfter(retryAfterSeconds) });
}
