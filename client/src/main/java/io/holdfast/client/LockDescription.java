package io.holdfast.client;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * A lock as the cluster sees it: its state, who holds it (session and declared identity), since
 * when, its current token, how long the holder's session has left, and its queue. An ORPHANED lock
 * (its holder's session ended uncleanly and it sits out its lock-delay) names its former holder.
 * {@code holderIdentity} is the identity the holder's session authenticated as; the other holder
 * fields are what its client declared.
 */
public record LockDescription(String name, State state, long holderSessionId, String holderName,
    String holderHost, long holderPid, long token, Instant acquiredAt, Duration holderTtlLeft,
    List<Waiter> waiters, Duration lockDelay, Duration maxHold, long formerHolderSessionId,
    String formerHolderName, String formerHolderHost, long formerHolderPid, Instant freedAt,
    Duration grantableIn, String freeReason, Map<String, String> holderLabels, String holderIdentity) {

  public enum State { FREE, HELD, ORPHANED }

  /** A queued acquire. */
  public record Waiter(long sessionId, String clientName, String host, long pid, Instant queuedAt) {}

  public LockDescription {
    waiters = List.copyOf(waiters);
    holderLabels = Map.copyOf(holderLabels);
  }

  public boolean held() {
    return state == State.HELD;
  }

  /** The queue's session ids, first in line first. */
  public List<Long> waitingSessionIds() {
    return waiters.stream().map(Waiter::sessionId).toList();
  }
}
