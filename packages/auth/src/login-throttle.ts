import { createSharedRateLimiter, getEnv, processSingleton, type RateLimiter } from "@plauder/runtime";
import { emailSchema } from "./validators";

/** What one sign-in attempt may do, and under which budget it was refused. */
export type LoginDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Sign-in attempts are counted under three budgets, because each stops a different attack:
 * - per address and email: brute force on one account from one place (LOGIN_MAX_ATTEMPTS);
 * - per account, from every address: credential stuffing spread over many addresses;
 * - per address, over every email: password spraying from one place.
 * The first counts every attempt and a success clears it; the other two count failures only (a right
 * password takes its hit back), so people signing in from one shared address do not use them up.
 */
export interface LoginThrottle {
  /** Counts an attempt before the password is checked; refused attempts check nothing. */
  begin(clientAddress: string, email: string): Promise<LoginDecision>;
  /** The password was right: the attempt counts against no failure budget. */
  succeeded(clientAddress: string, email: string): Promise<void>;
  /**
   * Seconds until `clientAddress` may try to sign in as `email` again (at least 1 while throttled),
   * or 0 when it may now: the longest of the three budgets. Counts no attempt.
   */
  retryAfterSecondsFor(clientAddress: string, email: string): Promise<number>;
}

const addressAndEmail = (clientAddress: string, email: string) => `${clientAddress}|${email}`;

export function getLoginThrottle(): LoginThrottle {
  return processSingleton("loginThrottle", () => {
    const env = getEnv();
    const windowMs = env.LOGIN_WINDOW_SECONDS * 1000;
    const pair = createSharedRateLimiter({ name: "login", limit: env.LOGIN_MAX_ATTEMPTS, windowMs });
    const account = createSharedRateLimiter({
      name: "login-account",
      limit: env.LOGIN_MAX_FAILURES_PER_ACCOUNT,
      windowMs,
    });
    const address = createSharedRateLimiter({
      name: "login-address",
      limit: env.LOGIN_MAX_FAILURES_PER_ADDRESS,
      windowMs,
    });
    const budgets = (clientAddress: string, email: string): Array<[RateLimiter, string]> => [
      [pair, addressAndEmail(clientAddress, email)],
      [account, email],
      [address, clientAddress],
    ];
    return {
      async begin(clientAddress, email) {
        // Counted in every budget at once, so many parallel guesses cannot all pass a check first.
        const decisions = await Promise.all(budgets(clientAddress, email).map(([limiter, key]) => limiter.hit(key)));
        let retryAfterSeconds = 0;
        for (const decision of decisions) {
          if (!decision.allowed) retryAfterSeconds = Math.max(retryAfterSeconds, decision.retryAfterSeconds);
        }
        return retryAfterSeconds === 0 ? { allowed: true } : { allowed: false, retryAfterSeconds };
      },
      async succeeded(clientAddress, email) {
        await Promise.all([
          pair.reset(addressAndEmail(clientAddress, email)),
          account.undo(email),
          address.undo(clientAddress),
        ]);
      },
      async retryAfterSecondsFor(clientAddress, email) {
        const parsed = emailSchema.safeParse(email);
        // Sign-in refuses such an email before counting anything, so nothing is throttled under it.
        if (!parsed.success) return 0;
        const waits = await Promise.all(
          budgets(clientAddress, parsed.data).map(([limiter, key]) => limiter.retryAfter(key)),
        );
        return Math.max(0, ...waits);
      },
    } satisfies LoginThrottle;
  });
}
