import { getHealth } from "./health";
import { authRouter } from "./router/auth";
import { realtimeRouter } from "./router/realtime";
import { createTRPCRouter, publicProcedure } from "./trpc";

export const appRouter = createTRPCRouter({
  health: publicProcedure.query(() => getHealth()),
  auth: authRouter,
  realtime: realtimeRouter,
});

/** The router's type: all a client needs for end-to-end type safety. */
export type AppRouter = typeof appRouter;
