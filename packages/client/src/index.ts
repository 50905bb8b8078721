export { jitteredBackoff } from "@plauder/runtime/backoff";
export {
  type CredentialsEnded,
  createPlauderClient,
  type PlauderClient,
  type PlauderClientOptions,
} from "./client";
export {
  CredentialsEndedError,
  InvalidCredentialsError,
  PlauderClientError,
  RateLimitedError,
  ServerUnreachableError,
} from "./errors";
export { httpBase, type LoginResponse, login, websocketUrl } from "./login";
