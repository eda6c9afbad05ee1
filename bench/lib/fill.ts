/**
 * @module bench/lib/fill
 * A bench fills its store directly, then hands it to a node. New mail's
 * full-text rows are written after delivery, in batches (node/store/mailbox/
 * fts-queue.ts), and a mailbox closed at once keeps them waiting until its
 * next open: the node would then spend the measured load indexing the
 * fill. A running node's indexer writes them within a quarter of a second
 * of delivery, so the fill does the same before it closes.
 */
import type { Mailbox } from '../../node/store/index.js';

export function indexNow(mailbox: Mailbox): void {
  while (mailbox.search.indexNew(1_000, 10_000)) {
    /* slice after slice until nothing waits */
  }
}
