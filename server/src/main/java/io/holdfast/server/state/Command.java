package io.holdfast.server.state;

import java.util.List;

/**
 * One replicated command. Every mutating command a client sends carries a client-chosen request
 * id, so that a retry (same id, e.g. after a failover) acts once. Commands the leader proposes on
 * its own ({@link ExpireSession}, {@link Checkpoint}) need none: they are conditional on the state
 * they were computed from.
 */
public sealed interface Command {

  /**
   * What makes two commands "the same request": a retry must carry the same fingerprint, a reused
   * request id with a different fingerprint is refused. Parameters that a retry may legitimately
   * change (the remaining wait of an acquire) are left out.
   */
  String fingerprint();

  /**
   * {@code maxSessionsPerIdentity}: the leader's limit on live sessions of {@code client.principal()}
   * (0: none), carried in the entry so that apply enforces it deterministically.
   * {@code exclusiveKey} (may be empty): opening a session with the key of a live session ends
   * that older session at once (a restarted process clearing its own ghost).
   */
  record OpenSession(String requestId, long ttlMs, ClientInfo client, String exclusiveKey,
      long maxSessionsPerIdentity) implements Command {
    public OpenSession(String requestId, long ttlMs, ClientInfo client) {
      this(requestId, ttlMs, client, "");
    }

    public OpenSession(String requestId, long ttlMs, ClientInfo client, String exclusiveKey) {
      this(requestId, ttlMs, client, exclusiveKey, 0);
    }

    // The principal is part of the fingerprint: another identity reusing a request id gets a refusal,
    // not the first identity's session. The limit is not: a retry may meet a changed config.
    public String fingerprint() {
      return "open:" + ttlMs + ":" + client.name() + ":" + client.host() + ":" + client.pid() + ":" + exclusiveKey
          + (client.principal().isEmpty() ? "" : ":" + client.principal());
    }
  }

  record CloseSession(String requestId, long sessionId) implements Command {
    public String fingerprint() {
      return "close:" + sessionId;
    }
  }

  /** Proposed by the leader's session clock; ignored if the session was renewed since. */
  record ExpireSession(long sessionId, long expectedRenewedIndex) implements Command {
    public String fingerprint() {
      return "expire:" + sessionId + ":" + expectedRenewedIndex;
    }
  }

  /**
   * {@code waitMs}: 0 try once, &gt; 0 wait that long, -1 wait until granted. {@code lockDelayMs}:
   * after an unclean release (expiry, revocation) the lock is not granted again for this long.
   * {@code maxHoldMs}: past this, the lock is revoked (0: no limit). {@code maxLocksPerSession} and
   * {@code maxWaitersPerLock} are the leader's limits (0: none), carried in the entry so that apply
   * enforces them identically on every replica whatever each node's own config says.
   */
  record Acquire(String requestId, long sessionId, String lockName, long waitMs, long lockDelayMs, long maxHoldMs,
      long maxLocksPerSession, long maxWaitersPerLock) implements Command {
    public Acquire(String requestId, long sessionId, String lockName, long waitMs) {
      this(requestId, sessionId, lockName, waitMs, 0, 0);
    }

    public Acquire(String requestId, long sessionId, String lockName, long waitMs, long lockDelayMs, long maxHoldMs) {
      this(requestId, sessionId, lockName, waitMs, lockDelayMs, maxHoldMs, 0, 0);
    }

    public String fingerprint() {
      return "acquire:" + sessionId + ":" + lockName + ":" + (waitMs == 0 ? "try" : "wait");
    }
  }

  record CancelWait(String requestId, long sessionId, String lockName, String acquireRequestId,
      boolean releaseIfGranted) implements Command {
    public String fingerprint() {
      return "cancel:" + sessionId + ":" + lockName + ":" + acquireRequestId + ":" + releaseIfGranted;
    }
  }

  /**
   * {@code resent}: the client sent this request id before and that attempt may have been applied
   * (see HoldfastState#release). Not part of the fingerprint: a resend is the same request.
   */
  record Release(String requestId, long sessionId, String lockName, long token, boolean resent) implements Command {
    public Release(String requestId, long sessionId, String lockName, long token) {
      this(requestId, sessionId, lockName, token, false);
    }

    public String fingerprint() {
      return "release:" + sessionId + ":" + lockName + ":" + token;
    }
  }

  /**
   * An operator takes a lock away, optionally handing it straight to {@code successorSessionId}.
   * {@code expectedToken} (0: any): only while this is the lock's token.
   */
  record Revoke(String requestId, String lockName, String reason, long successorSessionId, String requestedBy,
      long expectedToken) implements Command {
    public Revoke(String requestId, String lockName, String reason, long successorSessionId, String requestedBy) {
      this(requestId, lockName, reason, successorSessionId, requestedBy, 0);
    }

    public String fingerprint() {
      return "revoke:" + lockName + ":" + successorSessionId + ":" + reason
          + (expectedToken == 0 ? "" : ":" + expectedToken);
    }
  }

  /** An operator ends a session (a host known dead), releasing its locks as an expiry would. */
  record AdminExpireSession(String requestId, long sessionId, String reason, String requestedBy)
      implements Command {
    public String fingerprint() {
      return "admin-expire:" + sessionId + ":" + reason;
    }
  }

  /**
   * Writes a key. {@code expectedRevision}: -1 any, 0 the key must not exist, else its current
   * revision (compare-and-set). {@code fenceLock} (may be empty) with {@code fenceToken}: the write
   * succeeds only if that token is the lock's current token and the lock is held.
   * {@code maxKvBytes}: the leader's limit on the store's total key and value bytes (0: none),
   * carried in the entry so that every node applies the same limit.
   */
  record Put(String requestId, String key, byte[] value, long expectedRevision, String fenceLock, long fenceToken,
      long maxKvBytes) implements Command {
    public Put {
      value = value.clone();
    }

    public Put(String requestId, String key, byte[] value, long expectedRevision, String fenceLock, long fenceToken) {
      this(requestId, key, value, expectedRevision, fenceLock, fenceToken, 0);
    }

    /** The value's length, without the copy {@link #value()} makes. */
    public int valueLength() {
      return value.length;
    }

    @Override
    public byte[] value() {
      return value.clone();
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Put p && requestId.equals(p.requestId) && key.equals(p.key)
          && java.util.Arrays.equals(value, p.value) && expectedRevision == p.expectedRevision
          && fenceLock.equals(p.fenceLock) && fenceToken == p.fenceToken && maxKvBytes == p.maxKvBytes;
    }

    @Override
    public int hashCode() {
      return requestId.hashCode() * 31 + key.hashCode();
    }

    @Override
    public String toString() {
      return "Put[" + requestId + ", " + key + ", " + value.length + " bytes, expected revision " + expectedRevision
          + ", fence " + fenceLock + "/" + fenceToken + "]";
    }

    /**
     * What a retry must match. The value goes in as its SHA-256: with a 32-bit hash, a reused
     * request id with another value of the same hash was taken for a retry, acknowledged and not
     * written.
     */
    public String fingerprint() {
      byte[] digest;
      try {
        digest = java.security.MessageDigest.getInstance("SHA-256").digest(value);
      } catch (java.security.NoSuchAlgorithmException e) {
        throw new IllegalStateException("every Java platform has SHA-256", e);
      }
      return "put2:" + key + ":" + java.util.HexFormat.of().formatHex(digest) + ":" + expectedRevision + ":"
          + fenceLock + ":" + fenceToken;
    }

    /**
     * The fingerprint older builds kept, which a retry is matched against while their entries are
     * cached (two minutes of log time after an upgrade).
     */
    public String legacyFingerprint() {
      return "put:" + key + ":" + java.util.Arrays.hashCode(value) + ":" + value.length + ":" + expectedRevision + ":"
          + fenceLock + ":" + fenceToken;
    }
  }

  /** Deletes a key, with the same conditions as {@link Put}. */
  record Delete(String requestId, String key, long expectedRevision, String fenceLock, long fenceToken)
      implements Command {
    public String fingerprint() {
      return "delete:" + key + ":" + expectedRevision + ":" + fenceLock + ":" + fenceToken;
    }
  }

  /**
   * The leader's renewal checkpoint: the sessions whose keepalives it received since the last one.
   * Also proposed empty every tick while sessions exist, so that the log's clock keeps moving.
   */
  record Checkpoint(long[] renewedSessionIds) implements Command {
    // Primitive ids: a checkpoint names every renewed session, and boxing each one on every node
    // was a large share of what the followers allocated at 100,000 sessions. The record takes the
    // array as it is (every caller builds a fresh one; the decoder would otherwise copy it twice).

    public Checkpoint(List<Long> renewedSessionIds) {
      this(renewedSessionIds.stream().mapToLong(Long::longValue).toArray());
    }

    /** The ids; read-only by convention, since the array is not copied. */
    @Override
    public long[] renewedSessionIds() {
      return renewedSessionIds;
    }

    public String fingerprint() {
      return "checkpoint";
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Checkpoint c && java.util.Arrays.equals(renewedSessionIds, c.renewedSessionIds);
    }

    @Override
    public int hashCode() {
      return java.util.Arrays.hashCode(renewedSessionIds);
    }

    @Override
    public String toString() {
      return "Checkpoint" + java.util.Arrays.toString(renewedSessionIds);
    }
  }

  /**
   * From this entry on, the leader writes entries under apply rules {@code rules}. Proposed only
   * once every voter has said it supports them, so that a leader on a newer build never writes
   * entries its older fellow members would have to stop at during a rolling upgrade. Never lowers
   * the rules.
   */
  record RaiseApplyRules(int rules) implements Command {
    public String fingerprint() {
      return "rules:" + rules;
    }
  }

  /**
   * Commands that reached the leader together, replicated as one entry: one fsync, one round trip
   * and one apply for all of them. Each is applied in order as if it had an entry of its own, at
   * its own revision, so a batch changes no outcome, only the cost.
   */
  record Batch(List<Command> commands) implements Command {
    public Batch {
      commands = List.copyOf(commands);
    }

    public String fingerprint() {
      return "batch";
    }
  }
}
