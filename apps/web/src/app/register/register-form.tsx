"use client";

import { useRouter } from "next/navigation";
import { signIn } from "next-auth/react";
import { type FormEvent, useState } from "react";
import { FormError } from "~/components/form-error";
import { TextField } from "~/components/text-field";
import { api } from "~/trpc/react";

type FieldErrors = Partial<Record<"email" | "password" | "name", string[]>>;

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
      const data = (cause as { data?: { code?: string; fieldErrors?: FieldErrors } }).data;
      if (data?.code === "CONFLICT") setError("An account with this email already exists. Log in instead?");
      else if (data?.fieldErrors) setFieldErrors(data.fieldErrors);
      else setError("Registration failed. Please try again.");
      return;
    }
    const result = await signIn("credentials", { email: input.email, password: input.password, redirect: false });
    if (!result || result.error) {
      router.replace("/login");
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
        minLength={8}
        maxLength={256}
        error={fieldErrors.password?.[0]}
        hint="At least 8 characters."
      />
      <FormError message={error} />
      <button type="submit" className="button" disabled={register.isPending}>
        {register.isPending ? "Creating account…" : "Register"}
      </button>
    </form>
  );
}
