package io.holdfast.server.state;

import java.util.List;

/**
 * Everything the replicated state holds, as plain values: what a snapshot stores and what a
 * restore rebuilds from ({@code fencingEpoch}: see {@link FencingToken}). Derived indexes (a session's held locks, wait deadlines) are not stored.
 */
public record StateImage(
    long lastAppliedIndex,
    long lastAppliedTerm,
    long clockElapsedMs,
    long clockLastStampMs,
    long clockLastStampTerm,
    long clockWallMs,
    List<SessionImage> sessions,
    List<LockImage> locks,
    List<OpenImage> recentOpens,
    List<CachedRequest> adminRequests,
    List<AuditEntry> audit,
    List<KvEntry> kv,
    List<CachedRequest> kvRequests,
    long fencingEpoch,
    long lastRevision,
    int clusterRules) {

  /** An image from before apply rules were negotiated: see LogEntry.NEGOTIATED_FROM. */
  public StateImage(long lastAppliedIndex, long lastAppliedTerm, long clockElapsedMs, long clockLastStampMs,
      long clockLastStampTerm, long clockWallMs, List<SessionImage> sessions, List<LockImage> locks,
      List<OpenImage> recentOpens, List<CachedRequest> adminRequests, List<AuditEntry> audit, List<KvEntry> kv,
      List<CachedRequest> kvRequests, long fencingEpoch, long lastRevision) {
    this(lastAppliedIndex, lastAppliedTerm, clockElapsedMs, clockLastStampMs, clockLastStampTerm, clockWallMs,
        sessions, locks, recentOpens, adminRequests, audit, kv, kvRequests, fencingEpoch, lastRevision,
        LogEntry.NEGOTIATED_FROM);
  }

  /** An image from before batches: every revision was its entry's log index. */
  public StateImage(long lastAppliedIndex, long lastAppliedTerm, long clockElapsedMs, long clockLastStampMs,
      long clockLastStampTerm, long clockWallMs, List<SessionImage> sessions, List<LockImage> locks,
      List<OpenImage> recentOpens, List<CachedRequest> adminRequests, List<AuditEntry> audit, List<KvEntry> kv,
      List<CachedRequest> kvRequests, long fencingEpoch) {
    this(lastAppliedIndex, lastAppliedTerm, clockElapsedMs, clockLastStampMs, clockLastStampTerm, clockWallMs,
        sessions, locks, recentOpens, adminRequests, audit, kv, kvRequests, fencingEpoch, lastAppliedIndex);
  }

  /** {@code atClockMs}: the log clock when the answer was cached (0: before apply rules 2). */
  public record CachedRequest(String requestId, String fingerprint, Result result, long atClockMs) {}

  public record SessionImage(long id, long ttlMs, ClientInfo client, long createdAtMs,
      long renewedAtMs, long renewedAtClockMs, long renewedIndex, List<CachedRequest> recentRequests,
      String exclusiveKey) {}

  public record LockImage(String name, long holderSessionId, String grantRequestId, long token,
      long acquiredAtMs, List<Waiter> waiters, long lockDelayMs, long maxHoldMs, long holdDeadlineClockMs,
      long grantableAtClockMs, long formerHolderSessionId, ClientInfo formerHolder, long freedAtMs,
      String freeReason) {}

  public record OpenImage(String requestId, String fingerprint, long sessionId, long ttlMs) {}
}
