package io.holdfast.server.state;

import java.util.List;

/** The outcome of applying one command; identical on every replica. */
public sealed interface Result {

  /** A deterministic refusal: the state did not change. */
  record Failure(ErrorCode code, String message, long currentToken) implements Result {
    public Failure(ErrorCode code, String message) {
      this(code, message, 0);
    }
  }

  record SessionOpened(long sessionId, long ttlMs) implements Result {}

  record SessionClosed(List<String> releasedLocks) implements Result {
    public SessionClosed {
      releasedLocks = List.copyOf(releasedLocks);
    }
  }

  /** {@code expired} is false when the session had been renewed (or was gone) meanwhile. */
  record SessionExpired(boolean expired, List<String> releasedLocks) implements Result {
    public SessionExpired {
      releasedLocks = List.copyOf(releasedLocks);
    }
  }

  record Granted(long token) implements Result {}

  /** The caller waits in the lock's FIFO queue at {@code position} (1 = next). */
  record Queued(int position) implements Result {}

  /** A try-lock that found the lock held. */
  record NotGranted(long holderSessionId) implements Result {}

  /** {@code nextHolderSessionId} is 0 when no waiter took the lock over. */
  record Released(long nextHolderSessionId) implements Result {}

  /**
   * The outcome of CancelWait: {@code wasGranted} when the grant had won the race (its token is
   * given), {@code released} when the lock was then released on the caller's behalf.
   */
  record WaitCancelled(boolean wasGranted, boolean released, long token) implements Result {}

  /**
   * What a revocation did (or, for a dry run, would do): the former holder and its token, who got
   * the lock (0: nobody yet) with which token, and until when (log clock) it stays orphaned.
   */
  record Revoked(long formerHolderSessionId, long formerToken, long grantedToSessionId, long newToken,
      long orphanedForMs) implements Result {}

  /** The rules new entries are written under, after a {@link Command.RaiseApplyRules}. */
  record ApplyRulesRaised(int rules) implements Result {}

  /** A put or delete took effect at {@code revision} (the command's revision, see FencingToken). */
  record KvWritten(long revision, boolean existed) implements Result {}

  /**
   * A checkpoint renewed every session it listed except {@code missingSessionIds} (gone already).
   * The exceptions, not the renewals: the reply is usually empty, and Ratis keeps every reply in
   * its retry cache on every node.
   */
  record CheckpointApplied(List<Long> missingSessionIds) implements Result {
    public CheckpointApplied {
      missingSessionIds = List.copyOf(missingSessionIds);
    }
  }

  /** The results of a {@link Command.Batch}, one per command, in order. */
  record Batch(List<Result> results) implements Result {
    public Batch {
      results = List.copyOf(results);
    }
  }
}
