package io.holdfast.client;

import java.util.function.Consumer;

/**
 * Leader election for orchestrators, built on a lock and the fenced store: the leader holds the
 * lock named after the election and announces itself in the key {@code <name>/leader} with a
 * fenced write. Obtained from {@link HoldfastClient#election(String)}.
 *
 * <pre>{@code
 * Election e = client.election("orchestrators/eu-1");
 * try (Leadership me = e.campaign(session, "node-7:8080")) {   // blocks until this session leads
 *   runWhile(me::isValid, me.token());
 * }
 * }</pre>
 */
public interface Election {
  String name();

  /** Waits (in the lock's FIFO queue) until {@code session} leads, then announces {@code value}. */
  Leadership campaign(Session session, String value) throws InterruptedException;

  /** The current leader, read linearizably. */
  Leader leader();

  /**
   * Calls {@code observer} with the current leader and then with every change (a new leader, or
   * {@link Leader#NONE} when the leader's lock is freed), once per change, until the watch is
   * closed.
   */
  Watch observe(Consumer<Leader> observer);
}
