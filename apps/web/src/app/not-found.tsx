import type { Metadata } from "next";
import Link from "next/link";

export const metadata: Metadata = { title: "Page not found" };

/**
 * The app's own 404 page. Next's built-in one styles itself with inline `style` attributes and an
 * inline `<style>` element, which the Content-Security-Policy (style-src 'self') refuses; this one
 * uses the app's stylesheet.
 */
export default function NotFound() {
  return (
    <div className="auth-page">
      <h1>Page not found</h1>
      <p className="muted">There is nothing at this address.</p>
      <div className="actions">
        <Link href="/" className="button">
          Go to the start page
        </Link>
      </div>
    </div>
  );
}
