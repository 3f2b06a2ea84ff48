package io.holdfast.client;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * A live session as the cluster sees it. {@code identity} is who the session authenticated as
 * (certificate or token; "anonymous" on a cluster without auth); {@code clientName}, {@code host},
 * {@code pid} and {@code labels} are what its client declared.
 */
public record SessionDescription(long id, String clientName, String host, long pid, Map<String, String> labels,
    Duration ttl, Duration ttlLeft, Instant createdAt, Instant renewedAt, List<String> heldLocks,
    List<String> waitingOn, String exclusiveKey, String identity) {
  public SessionDescription {
    labels = Map.copyOf(labels);
    heldLocks = List.copyOf(heldLocks);
    waitingOn = List.copyOf(waitingOn);
  }
}
