import type { Metadata } from "next";
import Link from "next/link";
import { nextPathUnlessSignedIn } from "~/lib/auth-page";
import { LoginForm } from "./login-form";

export const metadata: Metadata = { title: "Log in" };

export default async function LoginPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[]>>;
}) {
  const next = await nextPathUnlessSignedIn(searchParams);
  return (
    <div className="auth-page">
      <h1>Log in</h1>
      <p className="muted">Welcome back. Sign in with your email and password.</p>
      <LoginForm redirectTo={next} />
      <p className="muted">
        No account yet? <Link href={`/register?callbackUrl=${encodeURIComponent(next)}`}>Register</Link>
      </p>
    </div>
  );
}
