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
 * @param locksNotListed how many more locks the event freed than {@code locks} names
 */
public record AuditEntry(long index, long wallMs, Kind kind, String lockName, long sessionId, ClientInfo client,
    long token, List<String> locks, String reason, String requestedBy, long successorSessionId, int locksNotListed) {

  /**
   * The most lock names one entry keeps (from apply rules 4). A session may hold a thousand locks and
   * the log keeps a thousand entries: all their names could take hundreds of MB on every node.
   */
  public static final int LISTED_LOCKS = 100;

  public AuditEntry {
    locks = List.copyOf(locks);
  }

  /** An entry for one lock. */
  public AuditEntry(long index, long wallMs, Kind kind, String lockName, long sessionId, ClientInfo client,
      long token, String reason, String requestedBy, long successorSessionId) {
    this(index, wallMs, kind, lockName, sessionId, client, token, List.of(lockName), reason, requestedBy,
        successorSessionId, 0);
  }

  /** An entry for a whole session, naming the first {@link #LISTED_LOCKS} of {@code freed} under rules 4. */
  public static AuditEntry ofSession(LogEntry e, Kind kind, SessionRecord s, List<String> freed, String reason,
      String requestedBy, long successorSessionId) {
    List<String> listed = e.applyRules() >= 4 && freed.size() > LISTED_LOCKS ? freed.subList(0, LISTED_LOCKS) : freed;
    return new AuditEntry(e.index(), e.leaderTimeMs(), kind, "", s.id(), s.client(), 0, listed, reason, requestedBy,
        successorSessionId, freed.size() - listed.size());
  }

  public enum Kind { EXPIRED, ADMIN_EXPIRED, TAKEN_OVER, REVOKED, MAX_HOLD_EXCEEDED }
}
