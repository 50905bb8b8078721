import { getEnv } from "@plauder/runtime";
import type { Metadata, Viewport } from "next";
import type { ReactNode } from "react";
import { auth } from "~/auth";
import { AppShell } from "~/components/app-shell";
import { TRPCReactProvider } from "~/trpc/react";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "Plauder", template: "%s · Plauder" },
  description: "Plauder: learn German by talking, in real time.",
};

/**
 * Every page renders per request: the Content-Security-Policy's nonce is new for each response, and
 * a page prerendered at build time would carry no nonce, so its scripts would be refused. (The
 * session lookup below makes them dynamic already; this keeps it so if that ever moves.) The cost:
 * no page is served from a static cache.
 */
export const dynamic = "force-dynamic";

export const viewport: Viewport = { width: "device-width", initialScale: 1, themeColor: "#0f766e" };

export default async function RootLayout({ children }: { children: ReactNode }) {
  const session = await auth();
  const user = session?.user ? { name: session.user.name ?? "", email: session.user.email ?? "" } : null;
  return (
    <html lang="en">
      <body>
        {/* Keyed by the user: signing in or out starts a fresh client and realtime connection. */}
        <TRPCReactProvider
          key={session?.user.id ?? "signed-out"}
          signedIn={user !== null}
          maxReconnects={getEnv().WS_CLIENT_MAX_RECONNECTS}
        >
          <AppShell user={user}>{children}</AppShell>
        </TRPCReactProvider>
      </body>
    </html>
  );
}
