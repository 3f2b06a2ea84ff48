package io.holdfast.client;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/** A live session as the cluster sees it. */
public record SessionDescription(long id, String clientName, String host, long pid, Map<String, String> labels,
    Duration ttl, Duration ttlLeft, Instant createdAt, Instant renewedAt, List<String> heldLocks,
    List<String> waitingOn, String exclusiveKey) {
  public SessionDescription {
    labels = Map.copyOf(labels);
    heldLocks = List.copyOf(heldLocks);
    waitingOn = List.copyOf(waitingOn);
  }
}
