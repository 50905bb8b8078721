import { type Database, getDatabase, users } from "@plauder/db";
import { eq } from "drizzle-orm";
import { getLoginLimiter, loginThrottleKey } from "./login-throttle";
import { hashPassword, verifyAgainstDummy, verifyPassword } from "./password";
import type { AuthUser, LoginInput, RegisterInput } from "./validators";

/** Registration failed because the email already has an account. */
export class EmailTakenError extends Error {
  constructor() {
    super("An account with this email already exists");
    this.name = "EmailTakenError";
  }
}

const publicColumns = { id: users.id, email: users.email, name: users.name };

function isUniqueViolation(error: unknown): boolean {
  // Drizzle wraps driver errors; the Postgres code sits on the error or its cause.
  for (let current = error; current instanceof Error; current = current.cause) {
    if ((current as { code?: unknown }).code === "23505") return true;
  }
  return false;
}

/** Creates an account from validated input. Throws {@link EmailTakenError} for a known email. */
export async function registerUser(input: RegisterInput, db: Database = getDatabase().db): Promise<AuthUser> {
  const passwordHash = await hashPassword(input.password);
  try {
    const [user] = await db
      .insert(users)
      .values({ email: input.email, name: input.name, passwordHash })
      .returning(publicColumns);
    if (!user) throw new Error("insert returned no row");
    return user;
  } catch (error) {
    if (isUniqueViolation(error)) throw new EmailTakenError();
    throw error;
  }
}

/** Looks a user up by id (for tokens and sessions that outlive an account). */
export async function findUserById(id: string, db: Database = getDatabase().db): Promise<AuthUser | null> {
  const [user] = await db.select(publicColumns).from(users).where(eq(users.id, id)).limit(1);
  return user ?? null;
}

export type LoginResult =
  | { ok: true; user: AuthUser }
  | { ok: false; reason: "invalid" }
  | { ok: false; reason: "throttled"; retryAfterSeconds: number };

/**
 * Checks credentials, throttled per client address and email. Unknown emails cost the same time as
 * wrong passwords, and both answer `invalid`, so neither timing nor wording tells which emails exist.
 */
export async function attemptLogin(
  input: LoginInput,
  clientAddress: string,
  db: Database = getDatabase().db,
): Promise<LoginResult> {
  const limiter = getLoginLimiter();
  const throttleKey = loginThrottleKey(clientAddress, input.email);
  const decision = await limiter.hit(throttleKey);
  if (!decision.allowed) return { ok: false, reason: "throttled", retryAfterSeconds: decision.retryAfterSeconds };

  const [row] = await db
    .select({ ...publicColumns, passwordHash: users.passwordHash })
    .from(users)
    .where(eq(users.email, input.email))
    .limit(1);
  const valid = row ? await verifyPassword(row.passwordHash, input.password) : await verifyAgainstDummy(input.password);
  if (!row || !valid) return { ok: false, reason: "invalid" };

  await limiter.reset(throttleKey);
  return { ok: true, user: { id: row.id, email: row.email, name: row.name } };
}
