import Link from "next/link";
import type { ReactNode } from "react";

/**
 * What the login and register pages share around their forms: the heading, a line under it, and
 * the way to the other page, which carries on where to go afterwards (`next`).
 */
export function AuthFrame({
  title,
  intro,
  next,
  other,
  children,
}: {
  title: string;
  intro: string;
  next: string;
  other: { question: string; path: "/login" | "/register"; label: string };
  children: ReactNode;
}) {
  return (
    <div className="auth-page">
      <h1>{title}</h1>
      <p className="muted">{intro}</p>
      {children}
      <p className="muted">
        {other.question} <Link href={`${other.path}?callbackUrl=${encodeURIComponent(next)}`}>{other.label}</Link>
      </p>
    </div>
  );
}
