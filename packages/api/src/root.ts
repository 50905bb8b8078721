import { getHealth } from "./health";
import { authRouter } from "./router/auth";
import { channelsRouter } from "./router/channels";
import { realtimeRouter } from "./router/realtime";
import { conversationsRouter, roomsRouter } from "./router/rooms";
import { tutorRouter } from "./router/tutor";
import { createTRPCRouter, publicProcedure } from "./trpc";

export const appRouter = createTRPCRouter({
  health: publicProcedure.query(() => getHealth()),
  auth: authRouter,
  realtime: realtimeRouter,
  channels: channelsRouter,
  rooms: roomsRouter,
  conversations: conversationsRouter,
  tutor: tutorRouter,
});

/** The router's type: all a client needs for end-to-end type safety. */
export type AppRouter = typeof appRouter;
