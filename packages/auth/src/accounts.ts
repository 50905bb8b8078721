import { type Database, getDatabase, users } from "@plauder/db";
import { createSharedRateLimiter, getEnv, processSingleton } from "@plauder/runtime";
import { eq } from "drizzle-orm";
import { getLoginThrottle } from "./login-throttle";
import { hashPassword, verifyAgainstDummy, verifyPassword } from "./password";
import type { AuthUser, LoginInput, RegisterInput } from "./validators";

const publicColumns = { id: users.id, email: users.email, name: users.name };

/**
 * What registration answers, the same whether the email was new or already had an account: the
 * answer must not tell a stranger which emails have accounts. Signing in afterwards shows the person
 * whether the password they chose is the account's.
 */
export type RegistrationResult = { ok: true; email: string } | { ok: false; retryAfterSeconds: number };

const registrationLimiter = () =>
  processSingleton("registrationLimiter", () => {
    const env = getEnv();
    return createSharedRateLimiter({
      name: "register",
      limit: env.REGISTER_RATE_LIMIT,
      windowMs: env.REGISTER_WINDOW_SECONDS * 1000,
    });
  });

/**
 * Creates an account from validated input, at most REGISTER_RATE_LIMIT per client address and
 * window (each costs an argon2id hash of 19 MiB, so the budget is taken before hashing). A known
 * email takes the same path and the same time: hashed, then an insert that does nothing.
 */
export async function registerAccount(
  input: RegisterInput,
  clientAddress: string,
  db: Database = getDatabase().db,
): Promise<RegistrationResult> {
  const decision = await registrationLimiter().hit(clientAddress);
  if (!decision.allowed) return { ok: false, retryAfterSeconds: decision.retryAfterSeconds };
  const passwordHash = await hashPassword(input.password);
  await db
    .insert(users)
    .values({ email: input.email, name: input.name, passwordHash })
    .onConflictDoNothing({ target: users.email });
  return { ok: true, email: input.email };
}

export type LoginResult =
  | { ok: true; user: AuthUser }
  | { ok: false; reason: "invalid" }
  | { ok: false; reason: "throttled"; retryAfterSeconds: number };

/**
 * Checks credentials, throttled per client address and email, per account and per address (see
 * {@link getLoginThrottle}). Unknown emails cost the same time as wrong passwords, and both answer
 * `invalid`, so neither timing nor wording tells which emails exist.
 */
export async function attemptLogin(
  input: LoginInput,
  clientAddress: string,
  db: Database = getDatabase().db,
): Promise<LoginResult> {
  const throttle = getLoginThrottle();
  const decision = await throttle.begin(clientAddress, input.email);
  if (!decision.allowed) return { ok: false, reason: "throttled", retryAfterSeconds: decision.retryAfterSeconds };

  const [row] = await db
    .select({ ...publicColumns, passwordHash: users.passwordHash })
    .from(users)
    .where(eq(users.email, input.email))
    .limit(1);
  const valid = row ? await verifyPassword(row.passwordHash, input.password) : await verifyAgainstDummy(input.password);
  if (!row || !valid) return { ok: false, reason: "invalid" };

  await throttle.succeeded(clientAddress, input.email);
  return { ok: true, user: { id: row.id, email: row.email, name: row.name } };
}
