/** Why a connection from an address was refused, if it was. */
export type AddressRefusal = "address" | "unauthenticated" | null;

type Counts = { total: number; unauthenticated: number };

/**
 * Counts the connections each client address holds on this instance, and how many of them have not
 * authenticated yet. Without it, one address could hold every MAX_CONNECTIONS place with sockets that
 * each live until the auth timeout and reconnect at once.
 *
 * Two ceilings, because addresses are shared: a classroom or office behind one NAT is many people
 * with one address, so the overall ceiling is generous; strangers' sockets (not yet signed in) get a
 * small one, which people who sign in pass through in milliseconds.
 */
export class AddressConnections {
  private readonly byAddress = new Map<string, Counts>();

  constructor(
    private readonly maxPerAddress: number,
    private readonly maxUnauthenticatedPerAddress: number,
  ) {}

  /** Takes a place for a new, not yet authenticated connection; null when admitted, else the limit hit. */
  tryOpen(address: string): AddressRefusal {
    const counts = this.byAddress.get(address) ?? { total: 0, unauthenticated: 0 };
    if (counts.total >= this.maxPerAddress) return "address";
    if (counts.unauthenticated >= this.maxUnauthenticatedPerAddress) return "unauthenticated";
    counts.total += 1;
    counts.unauthenticated += 1;
    this.byAddress.set(address, counts);
    return null;
  }

  /** A connection from `address` authenticated: it leaves the strangers' count. */
  authenticated(address: string): void {
    const counts = this.byAddress.get(address);
    if (counts && counts.unauthenticated > 0) counts.unauthenticated -= 1;
  }

  /** A connection from `address` ended; `authenticated` says which counts it was in. */
  release(address: string, authenticated: boolean): void {
    const counts = this.byAddress.get(address);
    if (!counts) return;
    counts.total -= 1;
    if (!authenticated && counts.unauthenticated > 0) counts.unauthenticated -= 1;
    if (counts.total <= 0) this.byAddress.delete(address);
  }

  /** Open connections from `address`, and how many of them are not authenticated. */
  countsOf(address: string): Readonly<Counts> {
    return this.byAddress.get(address) ?? { total: 0, unauthenticated: 0 };
  }
}
