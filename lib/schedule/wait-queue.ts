/** The waiting tickets, in order of arrival, with O(1) removal (a client leaving, a grant). */
import type { ProxyError } from "../errors.js";
import type { ServerState } from "../routing/server-state.js";
import type { UserShare } from "./fair-share.js";
import type { Grant, Ticket, Waiting } from "./types.js";

/** Who settles an entry when its client leaves. */
export interface EntryOwner {
  cancelEntry(e: Entry): void;
}

/** One waiting ticket: its place (seq, arrival), its user's share, and the promise its request awaits. */
export class Entry implements Waiting {
  readonly ticket: Ticket;
  readonly share: UserShare;
  /** Order of arrival; a ticket handed back by `retry` keeps its first one. */
  readonly seq: number;
  /** When the ticket was first admitted (scheduler clock): max_wait_seconds counts from here. */
  readonly admittedAt: number;
  /** When this wait began. */
  readonly enqueuedAt: number;
  /** Time waited before this wait (a ticket handed back by `retry`). */
  readonly queuedBefore: number;
  /** Servers the request already failed on. */
  readonly tried: ReadonlySet<ServerState> | null;
  state: "queued" | "granted" | "cancelled" | "refused" = "queued";
  /** The grant made from this entry, released if the client leaves before it is used. */
  grant: Grant | null = null;
  prev: Entry | null = null;
  next: Entry | null = null;
  readonly promise: Promise<Grant | ProxyError>;
  private settle!: (result: Grant | ProxyError) => void;
  private readonly owner: EntryOwner;

  constructor(
    owner: EntryOwner,
    ticket: Ticket,
    share: UserShare,
    place: { seq: number; admittedAt: number; queuedBefore: number },
    tried: ReadonlySet<ServerState> | null,
    now: number,
  ) {
    this.owner = owner;
    this.ticket = ticket;
    this.share = share;
    this.seq = place.seq;
    this.admittedAt = place.admittedAt;
    this.queuedBefore = place.queuedBefore;
    this.enqueuedAt = now;
    this.tried = tried;
    this.promise = new Promise((resolve) => {
      this.settle = resolve;
    });
  }

  cancel(): void {
    this.owner.cancelEntry(this);
  }

  /** Settles the promise with a grant. */
  granted(g: Grant): void {
    this.state = "granted";
    this.grant = g;
    this.settle(g);
  }

  /** Settles the promise with a refusal. */
  refused(err: ProxyError): void {
    this.state = "refused";
    this.settle(err);
  }

  /** True when the request may go to `s`: a candidate it has not failed on. */
  mayUse(s: ServerState): boolean {
    if (this.tried?.has(s)) return false;
    for (const tier of this.ticket.tiers) for (const c of tier) if (c === s) return true;
    return false;
  }
}

/** A doubly linked list ordered by `seq`. */
export class WaitQueue {
  head: Entry | null = null;
  tail: Entry | null = null;
  size = 0;

  /** Puts `e` at its place by `seq`: at the end for a new ticket, further in for one handed back. */
  insert(e: Entry): void {
    let after = this.tail;
    while (after !== null && after.seq > e.seq) after = after.prev;
    e.prev = after;
    e.next = after === null ? this.head : after.next;
    if (e.next === null) this.tail = e;
    else e.next.prev = e;
    if (after === null) this.head = e;
    else after.next = e;
    this.size++;
  }

  remove(e: Entry): void {
    if (e.prev === null) this.head = e.next;
    else e.prev.next = e.next;
    if (e.next === null) this.tail = e.prev;
    else e.next.prev = e.prev;
    e.prev = null;
    e.next = null;
    this.size--;
  }
}
