import { EmailTakenError, registerInput, registerUser } from "@plauder/auth";
import { TRPCError, type TRPCRouterRecord } from "@trpc/server";
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
} satisfies TRPCRouterRecord;
