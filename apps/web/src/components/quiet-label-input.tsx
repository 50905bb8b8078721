import { type InputHTMLAttributes, type Ref, useId } from "react";

type QuietLabelInputProps = Omit<InputHTMLAttributes<HTMLInputElement>, "id"> & {
  /** What screen readers announce for the input. */
  label: string;
  ref?: Ref<HTMLInputElement>;
};

/**
 * An input whose label only screen readers hear: the panel around it already shows what the input
 * is for (a heading, a placeholder), and a visible label would say it twice.
 */
export function QuietLabelInput({ label, className = "input", ...input }: QuietLabelInputProps) {
  const id = useId();
  return (
    <>
      <label htmlFor={id} className="sr-only">
        {label}
      </label>
      <input id={id} className={className} {...input} />
    </>
  );
}
