export { type Credential, issueAccessToken, readAccessToken, verifyAccessToken } from "./access-token";
export { attemptLogin, EmailTakenError, findUserById, type LoginResult, registerUser } from "./accounts";
export { getLoginLimiter } from "./login-throttle";
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
export { sessionFromCookie, userFromSessionCookie } from "./session";
export {
  type AuthUser,
  emailSchema,
  type LoginInput,
  loginInput,
  type RegisterInput,
  registerInput,
} from "./validators";
