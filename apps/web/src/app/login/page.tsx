import type { Metadata } from "next";
import { AuthFrame } from "~/components/auth-frame";
import { type AuthPageProps, nextPathUnlessSignedIn } from "~/lib/auth-page";
import { LoginForm } from "./login-form";

export const metadata: Metadata = { title: "Log in" };

export default async function LoginPage({ searchParams }: AuthPageProps) {
  const next = await nextPathUnlessSignedIn(searchParams);
  return (
    <AuthFrame
      title="Log in"
      intro="Welcome back. Sign in with your email and password."
      next={next}
      other={{ question: "No account yet?", path: "/register", label: "Register" }}
    >
      <LoginForm redirectTo={next} />
    </AuthFrame>
  );
}
