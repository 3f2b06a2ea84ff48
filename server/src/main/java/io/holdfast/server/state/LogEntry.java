package io.holdfast.server.state;

/**
 * A command as the log delivers it: its index and term, the leader's clock stamp, and the apply
 * rules the leader wrote it under ({@link #RULES}).
 */
public record LogEntry(long index, long term, long leaderTimeMs, Command command, int applyRules, long carriedMs) {
  /**
   * The apply rules this code writes. An entry replays under the rules it was written with, so a
   * node that replays an old entry after an upgrade ends in the state the others applied then.
   * 0: entries written before rules were recorded. 1: a lock handed on twice by one command gives
   * its second holder a revision of its own as token (LockTable.grant). 2: key-value and admin answers
   * are kept for two minutes of log time, not only for the last N requests (RequestCache). 3: every
   * grant after the first in one command takes a revision of its own as token, whatever the lock, so
   * tokens never repeat across locks (LockTable.grant); and a resent release whose answer is no
   * longer cached succeeds if its grant ended without being taken away (HoldfastState#release).
   * 4: an audit entry for a whole session names at most {@link AuditEntry#LISTED_LOCKS} of the locks
   * it freed, and counts the rest; and the first entry of a term adds the time its leader carried
   * across the failover ({@link #carriedMs}) to the log's clock.
   */
  public static final int RULES = 4;

  /**
   * The rules a cluster writes until every voter has said it supports more (see
   * {@link Command.RaiseApplyRules}); also what a node that cannot be asked is taken to support,
   * since every build that negotiates knows them.
   */
  public static final int NEGOTIATED_FROM = 2;

  /** An entry under the current rules. */
  public LogEntry(long index, long term, long leaderTimeMs, Command command) {
    this(index, term, leaderTimeMs, command, RULES);
  }

  /** An entry that carries no time across a failover. */
  public LogEntry(long index, long term, long leaderTimeMs, Command command, int applyRules) {
    this(index, term, leaderTimeMs, command, applyRules, 0);
  }
}
