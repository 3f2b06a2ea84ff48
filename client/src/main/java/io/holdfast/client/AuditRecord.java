package io.holdfast.client;

import java.time.Instant;
import java.util.List;

/**
 * One entry of the cluster's audit log: a lock or session taken from its owner without the owner
 * asking (EXPIRED, ADMIN_EXPIRED, TAKEN_OVER, REVOKED, MAX_HOLD_EXCEEDED), with who held it, its
 * token, the reason and who asked. An entry for a whole session names at most 100 of the locks it
 * freed; {@code locksNotListed} counts the rest.
 */
public record AuditRecord(long index, Instant time, String kind, String lockName, long sessionId, String clientName,
    String host, long pid, long token, List<String> locks, String reason, String requestedBy,
    long successorSessionId, int locksNotListed) {
  public AuditRecord {
    locks = List.copyOf(locks);
  }
}
