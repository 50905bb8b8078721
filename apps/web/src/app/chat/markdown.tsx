import type { ComponentProps } from "react";
import Markdown, { type Components } from "react-markdown";
import remarkGfm from "remark-gfm";

/**
 * The tutor's answer as markdown. Model output is untrusted: raw HTML in it is shown as text
 * (react-markdown turns it into text nodes; no rehype-raw), URLs pass react-markdown's
 * `defaultUrlTransform` (no `javascript:`), links open in a new tab without the page's opener or
 * referrer, and images are not loaded: each shows as a link to its address.
 */
const components: Components = {
  a: ({ node: _node, href, children, ...rest }: ComponentProps<"a"> & { node?: unknown }) => (
    <a {...rest} href={href} target="_blank" rel="noopener noreferrer nofollow">
      {children}
    </a>
  ),
  img: ({ src, alt }: ComponentProps<"img"> & { node?: unknown }) =>
    typeof src === "string" && src ? (
      <a href={src} target="_blank" rel="noopener noreferrer nofollow">
        {alt ? `Bild: ${alt}` : "Bild"}
      </a>
    ) : (
      <span>{alt ? `Bild: ${alt}` : "Bild"}</span>
    ),
};

const plugins = [remarkGfm];

export function TutorMarkdown({ text }: { text: string }) {
  return (
    <Markdown remarkPlugins={plugins} components={components}>
      {text}
    </Markdown>
  );
}
