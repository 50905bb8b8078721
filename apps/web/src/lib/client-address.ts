import { clientAddressHeader } from "@plauder/runtime";

/** The caller's address as the custom server recorded it. */
export function clientAddress(request: Request): string {
  return request.headers.get(clientAddressHeader) ?? "unknown";
}
