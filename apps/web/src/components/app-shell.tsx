import Link from "next/link";
import type { ReactNode } from "react";
import { auth } from "~/auth";
import { LogoutButton } from "./logout-button";

/** The frame around every page: brand, navigation and who is signed in. */
export async function AppShell({ children }: { children: ReactNode }) {
  const session = await auth();
  const user = session?.user;
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="shell-header">
        <nav className="shell-nav" aria-label="Main">
          <Link href="/" className="brand">
            <span className="brand-mark" aria-hidden="true">
              P
            </span>
            Plauder
          </Link>
          <Link href="/test-websocket" className="nav-link">
            Console
          </Link>
          <div className="shell-user">
            {user ? (
              <>
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
