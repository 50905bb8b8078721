/** A live subscription that runs outside any generator; the socket protocol stops it. */
export interface DetachedSubscription {
  stop(): void;
}

/**
 * Yielded by a subscription procedure to continue outside its generator. The socket protocol then
 * calls `attach` with the start of this subscription's data frames (`{"id":…`), ends the generator,
 * and from then on the subscription is whatever `attach` returned: for a broadcast subscription, an
 * entry in the fan-out set, with no generator, promise or abort signal kept per subscriber.
 *
 * Why: a suspended generator with tRPC's iteration machinery around it costs several kilobytes per
 * subscription, and a server holds one broadcast subscription per connection.
 */
export abstract class SubscriptionHandover {
  /** Called at once and synchronously when the protocol receives the handover. */
  abstract attach(framePrefix: string): DetachedSubscription;
  /** Called instead of `attach` when the subscription ended before it could be attached. */
  abstract cancel(): void;
}

/** The start of a tRPC response frame for one call id: the per-subscription part of every data frame. */
export function framePrefix(id: string | number, jsonrpc: string | undefined): string {
  return `{"id":${JSON.stringify(id)}${jsonrpc === undefined ? "" : `,"jsonrpc":${JSON.stringify(jsonrpc)}`}`;
}
