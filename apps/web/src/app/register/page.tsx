import type { Metadata } from "next";
import Link from "next/link";
import { nextPathUnlessSignedIn } from "~/lib/auth-page";
import { RegisterForm } from "./register-form";

export const metadata: Metadata = { title: "Register" };

export default async function RegisterPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[]>>;
}) {
  const next = await nextPathUnlessSignedIn(searchParams);
  return (
    <div className="auth-page">
      <h1>Create your account</h1>
      <p className="muted">One account for the web app and for typed clients.</p>
      <RegisterForm redirectTo={next} />
      <p className="muted">
        Already registered? <Link href={`/login?callbackUrl=${encodeURIComponent(next)}`}>Log in</Link>
      </p>
    </div>
  );
}
