import { registerAccount, registerInput } from "@plauder/auth";
import type { TRPCRouterRecord } from "@trpc/server";
import { tooManyRequests } from "../errors";
import { endSession } from "../sessions/end-session";
import { protectedProcedure, publicProcedure } from "../trpc";

export const authRouter = {
  /**
   * Creates an account, and answers `{ email }` the same way, in the same time, when the email already
   * has one (that account stays as it was): the answer tells no stranger which emails have accounts.
   * Signing in afterwards (next-auth for browsers, the login endpoint for clients) shows whether the
   * password is the account's. At most REGISTER_RATE_LIMIT per client address and window.
   */
  register: publicProcedure.input(registerInput).mutation(async ({ input, ctx }) => {
    const result = await registerAccount(input, ctx.clientAddress);
    if (!result.ok) throw tooManyRequests(result.retryAfterSeconds, "Too many registrations from this address");
    return { email: result.email };
  }),

  /** The signed-in user. */
  me: protectedProcedure.query(({ ctx }) => ctx.user),

  /**
   * Ends the caller's own session or token on every instance: it is refused from now on, and the
   * sockets opened with it close (4001). The person's other sessions stay signed in. Browsers sign
   * out through next-auth, which does the same.
   */
  logout: protectedProcedure.mutation(async ({ ctx }) => {
    const credential = ctx.credential;
    const sessionId = credential?.sessionId;
    if (sessionId && credential) {
      // This connection closes after its answer; the bus and the sweep close the session's others.
      const closeAfterAnswer = ctx.connection?.holdForOwnSignOut();
      try {
        await endSession({ sessionId, userId: credential.user.id, expiresAt: credential.revokeUntil });
      } finally {
        closeAfterAnswer?.();
      }
    }
    return { ended: sessionId !== undefined };
  }),
} satisfies TRPCRouterRecord;
