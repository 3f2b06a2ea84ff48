package io.holdfast.client;

import java.time.Instant;
import java.util.List;

/**
 * A lock as the cluster sees it: who holds it (session and declared identity), since when, its
 * current token, and the queue.
 */
public record LockDescription(String name, boolean held, long holderSessionId, String holderName,
    String holderHost, long holderPid, long token, Instant acquiredAt, List<Long> waitingSessionIds) {
  public LockDescription {
    waitingSessionIds = List.copyOf(waitingSessionIds);
  }
}
