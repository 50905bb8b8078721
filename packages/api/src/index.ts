export { bearerTokenMatches } from "./bearer";
export { broadcastChannel, getBroadcastStore } from "./broadcasts/service";
export type { Broadcast } from "./broadcasts/types";
export { closeBus, getBus } from "./bus/index";
export {
  type ChannelName,
  conversationChannel,
  type PublicationKind,
  parseChannelName,
  roomChannel,
  userChannel,
} from "./channels/names";
export type { PresentUser as ChannelMember } from "./channels/presence";
export { channelTopic, getChannelRegistry, publishAs } from "./channels/service";
export type { ChannelEvent, ChannelPublication, ChannelSync, PublishAck } from "./channels/types";
export { type Context, createHttpContext } from "./context";
export { type Diagnostics, diagnostics } from "./diagnostics";
export { tooManyRequests } from "./errors";
export { getHealth, type Health } from "./health";
export { metrics } from "./metrics";
export type { PresenceEvent, PresentUser } from "./presence/index";
export { type AppRouter, appRouter } from "./root";
export type { ChannelPresenceEvent } from "./router/channels";
export { endSession, startRevocationSync } from "./sessions/end-session";
export { logProcedureError, subscriptionPaths, subscriptionsOverHttpRefusal } from "./trpc";
export { closeTutor } from "./tutor/lifecycle";
