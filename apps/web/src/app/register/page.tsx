import type { Metadata } from "next";
import { AuthFrame } from "~/components/auth-frame";
import { type AuthPageProps, nextPathUnlessSignedIn } from "~/lib/auth-page";
import { RegisterForm } from "./register-form";

export const metadata: Metadata = { title: "Register" };

export default async function RegisterPage({ searchParams }: AuthPageProps) {
  const next = await nextPathUnlessSignedIn(searchParams);
  return (
    <AuthFrame
      title="Create your account"
      intro="One account for the web app and for typed clients."
      next={next}
      other={{ question: "Already registered?", path: "/login", label: "Log in" }}
    >
      <RegisterForm redirectTo={next} />
    </AuthFrame>
  );
}
