"use client";

import { useRouter } from "next/navigation";
import { signIn } from "next-auth/react";
import { type FormEvent, useState } from "react";
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

  const described = (field: keyof FieldErrors) => (fieldErrors[field] ? `${field}-error` : undefined);

  return (
    <form className="form" onSubmit={onSubmit} noValidate>
      <div className="field">
        <label htmlFor="name">Name</label>
        <input
          id="name"
          name="name"
          autoComplete="name"
          required
          maxLength={64}
          aria-invalid={!!fieldErrors.name}
          aria-describedby={described("name")}
        />
        {fieldErrors.name && (
          <p id="name-error" className="field-error">
            {fieldErrors.name[0]}
          </p>
        )}
      </div>
      <div className="field">
        <label htmlFor="email">Email</label>
        <input
          id="email"
          name="email"
          type="email"
          autoComplete="email"
          required
          maxLength={254}
          aria-invalid={!!fieldErrors.email}
          aria-describedby={described("email")}
        />
        {fieldErrors.email && (
          <p id="email-error" className="field-error">
            {fieldErrors.email[0]}
          </p>
        )}
      </div>
      <div className="field">
        <label htmlFor="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autoComplete="new-password"
          required
          minLength={8}
          maxLength={256}
          aria-invalid={!!fieldErrors.password}
          aria-describedby={described("password") ?? "password-hint"}
        />
        {fieldErrors.password ? (
          <p id="password-error" className="field-error">
            {fieldErrors.password[0]}
          </p>
        ) : (
          <p id="password-hint" className="field-hint">
            At least 8 characters.
          </p>
        )}
      </div>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" className="button" disabled={register.isPending}>
        {register.isPending ? "Creating account…" : "Register"}
      </button>
    </form>
  );
}
