import Link from "next/link";
import type { ReactNode } from "react";
import { ConnectionBadge } from "./connection-badge";
import { LogoutButton } from "./logout-button";

/** The frame around every page: brand, navigation, realtime status and who is signed in. */
export function AppShell({ children, user }: { children: ReactNode; user: { name: string; email: string } | null }) {
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="shell-header">
        <nav className="shell-nav" aria-label="Main">
          <Link href="/" className="brand" aria-label="Plauder home">
            <span className="brand-mark" aria-hidden="true">
              P
            </span>
            <span className="brand-text">Plauder</span>
          </Link>
          <Link href="/chat" className="nav-link">
            Chat
          </Link>
          <Link href="/test-websocket" className="nav-link">
            Console
          </Link>
          <div className="shell-user">
            {user ? (
              <>
                <ConnectionBadge />
                <span className="user-name" title={user.email ?? undefined}>
                  <span className="sr-only">Signed in as </span>
                  {user.name}
                </span>
                <LogoutButton />
              </>
            ) : (
              <>
                <Link href="/login" className="nav-link">
                  Log in
                </Link>
                <Link href="/register" className="button button-small">
                  Register
                </Link>
              </>
            )}
          </div>
        </nav>
      </header>
      <main id="main" className="shell-main">
        {children}
      </main>
    </>
  );
}
