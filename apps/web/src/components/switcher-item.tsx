import type { ReactNode } from "react";

/**
 * One entry of a switcher list (`<ul className="switcher">`): a button in its own `<li>`, marked
 * `aria-current` while it is the one shown, so that screen readers announce it as the current one.
 */
export function SwitcherItem({
  current,
  onSelect,
  className,
  children,
}: {
  current: boolean;
  onSelect: () => void;
  /** Classes besides `switcher-item`. */
  className?: string;
  children: ReactNode;
}) {
  return (
    <li>
      <button
        type="button"
        className={className ? `switcher-item ${className}` : "switcher-item"}
        aria-current={current ? "true" : undefined}
        onClick={onSelect}
      >
        {children}
      </button>
    </li>
  );
}
