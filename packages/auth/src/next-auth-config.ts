import { randomUUID } from "node:crypto";
import { clientAddressHeader, getEnv, getLogger } from "@plauder/runtime";
import { CredentialsSignin, type NextAuthConfig } from "next-auth";
import Credentials from "next-auth/providers/credentials";
import { attemptLogin } from "./accounts";
import type { Revocation } from "./revocation-cache";
import { getAuthSecret } from "./secret";
import { revocationEnd, usableSession } from "./session-lifetime";
import { loginInput } from "./validators";

/** Sign-in refused because of too many attempts; the route answers it with HTTP 429. */
export class TooManyAttemptsError extends CredentialsSignin {
  override code = "rate_limited";
}

/** A session that ended by signing out: its id, whose it was, and until when it must stay refused (epoch ms). */
export type EndedSession = Revocation;

export type AuthConfigOptions = {
  /** Called when someone signs out, to revoke the session everywhere and close its sockets. */
  onSignOut?: (session: EndedSession) => Promise<void>;
};

/**
 * next-auth configuration: email + password via the Credentials provider, sessions as encrypted JWT
 * cookies (the Credentials provider supports no other strategy), the user id in `session.user.id`.
 */
export function createAuthConfig(options: AuthConfigOptions = {}): NextAuthConfig {
  return {
    secret: getAuthSecret(),
    trustHost: true,
    // Sliding: every refresh re-issues the cookie for this long; the jwt callback enforces the absolute end.
    session: { strategy: "jwt", maxAge: getEnv().SESSION_MAX_AGE_SECONDS },
    pages: { signIn: "/login" },
    providers: [
      Credentials({
        credentials: { email: { label: "Email", type: "email" }, password: { label: "Password", type: "password" } },
        async authorize(raw, request) {
          const parsed = loginInput.safeParse(raw);
          if (!parsed.success) return null;
          const address = request.headers.get(clientAddressHeader) ?? "unknown";
          const result = await attemptLogin(parsed.data, address);
          if (result.ok) return result.user;
          if (result.reason === "throttled") throw new TooManyAttemptsError();
          return null;
        },
      }),
    ],
    callbacks: {
      async jwt({ token, user }) {
        if (user?.id) {
          token.sub = user.id;
          token.name = user.name;
          token.email = user.email;
          // One id per sign-in: signing out revokes exactly this session, not the person's others.
          token.sid = randomUUID();
          // Refreshes keep this, so a session ends SESSION_ABSOLUTE_MAX_AGE_SECONDS after sign-in.
          token.authTime = Math.floor(Date.now() / 1000);
          return token;
        }
        // Every refresh (GET /api/auth/session, auth()) re-issues the cookie with a new expiry, so a
        // signed-out, too old or pre-sid session must end here; null makes next-auth delete the cookie.
        return (await usableSession(token)) ? token : null;
      },
      session({ session, token }) {
        if (token.sub) session.user.id = token.sub;
        return session;
      },
    },
    events: {
      async signOut(message) {
        const token = "token" in message ? message.token : null;
        if (!token || typeof token.sid !== "string" || typeof token.sub !== "string") return;
        // A cookie without authTime is refused anyway; its revocation then lasts as long as a fresh one.
        const authTime = typeof token.authTime === "number" ? token.authTime : Math.floor(Date.now() / 1000);
        await options.onSignOut?.({ sessionId: token.sid, userId: token.sub, expiresAt: revocationEnd({ authTime }) });
      },
    },
    logger: {
      // Failed sign-ins are expected traffic, not errors; never log their details or stacks.
      error(error) {
        if (error instanceof CredentialsSignin) return;
        getLogger().error({ err: error.message, type: error.name }, "auth error");
      },
      warn(code) {
        getLogger().warn({ code }, "auth warning");
      },
      debug() {},
    },
  };
}
