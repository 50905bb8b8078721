/** Counts each user's open connections on this instance and enforces a ceiling. */
export class UserConnections {
  private readonly byUser = new Map<string, Set<string>>();
  private readonly userOf = new Map<string, string>();

  constructor(private readonly limit: number) {}

  /** Records the connection for the user unless that would exceed the limit. */
  tryAdd(userId: string, connectionId: string): boolean {
    if (this.userOf.get(connectionId) === userId) return true;
    // A connection counts for one user: one that authenticated again (cookie, then token) moves.
    this.remove(connectionId);
    const connections = this.byUser.get(userId) ?? new Set<string>();
    if (connections.size >= this.limit) return false;
    connections.add(connectionId);
    this.byUser.set(userId, connections);
    this.userOf.set(connectionId, userId);
    return true;
  }

  remove(connectionId: string): void {
    const userId = this.userOf.get(connectionId);
    if (userId === undefined) return;
    this.userOf.delete(connectionId);
    const connections = this.byUser.get(userId);
    connections?.delete(connectionId);
    if (connections?.size === 0) this.byUser.delete(userId);
  }
}
