/** The slot a request holds, and how to tell the three kinds of admission apart. */
import { ProxyError } from "../errors.js";
import type { ModelSlot, ServerState } from "../routing/server-state.js";
import type { UserShare } from "./fair-share.js";
import type { Admission, Grant, Ticket, Waiting } from "./types.js";

/** Who frees a slot when its grant is released. */
export interface GrantOwner {
  releaseGrant(g: SlotGrant): void;
}

/** A slot held by one request. */
export class SlotGrant implements Grant {
  readonly server: ServerState;
  readonly queuedMs: number;
  readonly ticket: Ticket;
  /** The ticket's place in the queue, kept across failovers. */
  readonly seq: number;
  readonly admittedAt: number;
  readonly slot: ModelSlot;
  /** The user's share when `server` has a slot limit (fair share counts GPU time there only). */
  readonly share: UserShare | null;
  released = false;
  private readonly owner: GrantOwner;

  constructor(
    owner: GrantOwner,
    ticket: Ticket,
    server: ServerState,
    slot: ModelSlot,
    share: UserShare | null,
    seq: number,
    admittedAt: number,
    queuedMs: number,
  ) {
    this.owner = owner;
    this.ticket = ticket;
    this.server = server;
    this.slot = slot;
    this.share = share;
    this.seq = seq;
    this.admittedAt = admittedAt;
    this.queuedMs = queuedMs;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.owner.releaseGrant(this);
  }
}

/** Narrows an admission: a slot now. */
export function isGrant(a: Admission): a is Grant {
  return !(a instanceof ProxyError) && "release" in a;
}

/** Narrows an admission: a ticket that waits (await `promise`; `cancel()` if the client leaves). */
export function isWaiting(a: Admission): a is Waiting {
  return !(a instanceof ProxyError) && "promise" in a;
}
