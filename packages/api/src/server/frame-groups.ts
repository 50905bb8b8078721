/**
 * Live subscriptions on a direct fan-out path, grouped by their frame prefix (`{"id":<subscription
 * id>`). Clients number their subscriptions from 1, so a handful of prefixes covers nearly
 * everyone: a fan-out encodes each event's frame once per group and hands the same bytes to every
 * socket in it. Shared by the lobby's and the channels' fan-outs.
 */
export class FrameGroups<Member extends { readonly framePrefix: string }> {
  private readonly groups = new Map<string, Set<Member>>();
  private count = 0;

  add(member: Member): void {
    let group = this.groups.get(member.framePrefix);
    if (!group) {
      group = new Set();
      this.groups.set(member.framePrefix, group);
    }
    if (group.has(member)) return;
    group.add(member);
    this.count++;
  }

  /** Returns whether the member was there. */
  remove(member: Member): boolean {
    const group = this.groups.get(member.framePrefix);
    if (!group?.delete(member)) return false;
    this.count--;
    if (group.size === 0) this.groups.delete(member.framePrefix);
    return true;
  }

  size(): number {
    return this.count;
  }

  /** Each prefix with its members; iterate members over a copy if the loop may remove them. */
  entries(): IterableIterator<[string, Set<Member>]> {
    return this.groups.entries();
  }
}
