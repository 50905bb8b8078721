export type { ChannelEvent, ChannelPublication, ChannelSync, PublishAck } from "@plauder/api";
export { jitteredBackoff } from "@plauder/runtime/backoff";
export {
  type ChannelHandlers,
  type ChannelRecovery,
  type ChannelSubscription,
  type PublicationSource,
  type SubscribeChannelOptions,
  subscribeChannel,
} from "./channels";
export {
  type CredentialsEnded,
  createPlauderClient,
  type PlauderClient,
  type PlauderClientOptions,
} from "./client";
export {
  type ConversationFollower,
  type ConversationHandlers,
  type ConversationState,
  followConversation,
  type TutorCorrection,
} from "./conversation";
export {
  CredentialsEndedError,
  InvalidCredentialsError,
  PlauderClientError,
  RateLimitedError,
  ServerUnreachableError,
} from "./errors";
export { httpBase, type LoginResponse, login, websocketUrl } from "./login";
