package io.holdfast.server.raft;

/**
 * How a hold of the command queue ended (see {@code batch-linger-us}): the figures an operator
 * reads to tell whether the linger pays for itself on this workload.
 */
public enum HoldOutcome {
  /** As many commands came as the entry before had callers: they went out together. */
  FILLED,
  /** A hand-over (a release a waiter is queued behind) ended it before it filled. */
  HANDED_OVER,
  /** The linger ran out with at least half the expected commands queued. */
  PARTIAL,
  /** The linger ran out with fewer than half: the next holds are skipped for a while. */
  MISSED
}
