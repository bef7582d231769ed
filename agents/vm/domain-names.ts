/**
 * DomainNames: the names of the domains on one libvirt connection, so that a VM just bound to
 * the host (whose domain does not exist yet, the common case in a burst of bindings) is defined
 * without first asking libvirt for a domain it does not have: one libvirt call in three.
 *
 * Filled from a full listing, then kept current by lifecycle events (defined/undefined, from any
 * client of the daemon) and by the agent's own define/undefine. It only ever answers "known
 * absent": anything else (not filled yet, another connection, a name it has seen) means "look it
 * up". Being wrong is harmless: a define over a domain of the same name and UUID (ours) updates
 * it, one over a foreign domain fails with "already exists" and the name is then marked present,
 * so the next reconcile looks it up.
 */
import type { LibvirtConnection } from '../../libvirt';

export class DomainNames {
  private names = new Set<string>();
  private conn: LibvirtConnection | undefined;

  /** Replaces the index with a listing of `conn` (events since the listing began are applied on top). */
  fill(conn: LibvirtConnection, names: Iterable<string>): void {
    this.names = new Set([...names, ...this.pendingSince(conn)]);
    this.conn = conn;
    this.during = undefined;
  }

  /** Call before listing `conn`: names defined meanwhile are kept by fill(). */
  beginListing(conn: LibvirtConnection): void {
    this.during = { conn, added: new Set() };
  }

  /** Forgets everything (a new connection: the daemon may have changed meanwhile). */
  invalidate(): void {
    this.conn = undefined;
    this.names.clear();
    this.during = undefined;
  }

  /** True only if `name` is certainly not a domain of `conn`. */
  knownAbsent(conn: LibvirtConnection, name: string): boolean {
    return this.conn === conn && !this.names.has(name);
  }

  /** A domain of this name exists (or may: a define failed because of it). */
  add(name: string): void {
    this.names.add(name);
    this.during?.added.add(name);
  }

  delete(name: string): void {
    this.names.delete(name);
    this.during?.added.delete(name);
  }

  private during: { conn: LibvirtConnection; added: Set<string> } | undefined;

  private pendingSince(conn: LibvirtConnection): Iterable<string> {
    return this.during?.conn === conn ? this.during.added : [];
  }
}
