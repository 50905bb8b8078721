export { type Credential, issueAccessToken, readAccessToken, verifyAccessToken } from "./access-token";
export { attemptLogin, type LoginResult, type RegistrationResult, registerAccount } from "./accounts";
export { getLoginThrottle, type LoginThrottle } from "./login-throttle";
export { hashPassword, verifyPassword } from "./password";
export {
  isSessionRevoked,
  noteRevokedSession,
  type Revocation,
  revokedAmong,
  revokeSession,
  startRevocations,
  stopRevocations,
} from "./revocations";
export { getAuthSecret, UnsafeAuthSecretError } from "./secret";
export { sessionFromCookie } from "./session";
export {
  type AuthUser,
  emailSchema,
  type LoginInput,
  loginInput,
  type RegisterInput,
  registerInput,
} from "./validators";
