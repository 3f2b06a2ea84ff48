package io.holdfast.server.state;

import java.util.List;

/**
 * One record of the replicated audit log: something that took a lock or a session away from its
 * owner without the owner asking (expiry, revocation, admin expiry, takeover, max hold time).
 *
 * @param index revision of the command that did it (its entry's log index unless batched)
 * @param wallMs leader wall-clock time of that entry
 * @param kind what happened
 * @param lockName the lock concerned ("" for whole-session events)
 * @param sessionId the former holder (or the session ended)
 * @param client that session's declared identity
 * @param token the former holder's token ("" lock: 0)
 * @param locks every lock the event freed
 * @param reason the operator's reason, or the system's
 * @param requestedBy who asked ("" for the system)
 * @param successorSessionId the session the lock went to at once, or 0
 */
public record AuditEntry(long index, long wallMs, Kind kind, String lockName, long sessionId, ClientInfo client,
    long token, List<String> locks, String reason, String requestedBy, long successorSessionId) {

  public AuditEntry {
    locks = List.copyOf(locks);
  }

  public enum Kind { EXPIRED, ADMIN_EXPIRED, TAKEN_OVER, REVOKED, MAX_HOLD_EXCEEDED }
}
