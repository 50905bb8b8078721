"use client";

import { useRouter } from "next/navigation";
import { signIn } from "next-auth/react";
import { type FormEvent, useState } from "react";
import { FormError } from "~/components/form-error";
import { TextField } from "~/components/text-field";
import { api } from "~/trpc/react";

type FieldErrors = Partial<Record<"email" | "password" | "name", string[]>>;

function tooManyRegistrations(retryAfterSeconds: number | undefined): string {
  const minutes = Math.max(1, Math.ceil((retryAfterSeconds ?? 600) / 60));
  return `Too many accounts were created from this network just now. Please try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`;
}

export function RegisterForm({ redirectTo }: { redirectTo: string }) {
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<FieldErrors>({});
  const register = api.auth.register.useMutation();

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const input = {
      name: String(form.get("name") ?? ""),
      email: String(form.get("email") ?? ""),
      password: String(form.get("password") ?? ""),
    };
    setError(null);
    setFieldErrors({});
    try {
      await register.mutateAsync(input);
    } catch (cause) {
      const data = (cause as { data?: { code?: string; fieldErrors?: FieldErrors; retryAfter?: number } }).data;
      if (data?.code === "TOO_MANY_REQUESTS") setError(tooManyRegistrations(data.retryAfter));
      else if (data?.fieldErrors) setFieldErrors(data.fieldErrors);
      else setError("Registration failed. Please try again.");
      return;
    }
    // Registration answers the same for an email that already has an account (so strangers cannot
    // find out which emails do); signing in is where the difference shows.
    const result = await signIn("credentials", { email: input.email, password: input.password, redirect: false });
    if (!result || result.error) {
      setError("We could not sign you in. If this email already has an account, log in with that account's password.");
      return;
    }
    router.replace(redirectTo);
    router.refresh();
  }

  return (
    <form className="form" onSubmit={onSubmit} noValidate>
      <TextField name="name" label="Name" autoComplete="name" required maxLength={64} error={fieldErrors.name?.[0]} />
      <TextField
        name="email"
        label="Email"
        type="email"
        autoComplete="email"
        required
        maxLength={254}
        error={fieldErrors.email?.[0]}
      />
      <TextField
        name="password"
        label="Password"
        type="password"
        autoComplete="new-password"
        required
        minLength={12}
        maxLength={256}
        error={fieldErrors.password?.[0]}
        hint="At least 12 characters. A few unrelated words make a strong one."
      />
      <FormError message={error} />
      <button type="submit" className="button" disabled={register.isPending}>
        {register.isPending ? "Creating account…" : "Register"}
      </button>
    </form>
  );
}
