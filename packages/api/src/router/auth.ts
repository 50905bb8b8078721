import { EmailTakenError, registerInput, registerUser } from "@plauder/auth";
import { TRPCError, type TRPCRouterRecord } from "@trpc/server";
import { endSession } from "../sessions/end-session";
import { protectedProcedure, publicProcedure } from "../trpc";

export const authRouter = {
  /** Creates an account. Signing in afterwards is next-auth's job (browsers) or the login endpoint's (clients). */
  register: publicProcedure.input(registerInput).mutation(async ({ input }) => {
    try {
      return await registerUser(input);
    } catch (error) {
      if (error instanceof EmailTakenError) throw new TRPCError({ code: "CONFLICT", message: error.message });
      throw error;
    }
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
      await endSession({ sessionId, userId: credential.user.id, expiresAt: credential.revokeUntil });
    }
    return { ended: sessionId !== undefined };
  }),
} satisfies TRPCRouterRecord;
