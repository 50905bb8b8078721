import { endSession } from "@plauder/api";
import { createAuthConfig } from "@plauder/auth/next-auth";
import NextAuth, { type DefaultSession } from "next-auth";

declare module "next-auth" {
  interface Session {
    user: { id: string } & DefaultSession["user"];
  }
}

/** Signing out ends the session on every instance and closes the sockets opened with it. */
export const { handlers, auth, signIn, signOut } = NextAuth(() => createAuthConfig({ onSignOut: endSession }));
