package io.holdfast.client;

import java.time.Duration;
import java.util.List;

/**
 * The operator's view and tools: what every lock and session is, the audit log, and the safe
 * bypass. Reads are linearizable. Obtained from {@link HoldfastClient#admin()}.
 *
 * <pre>{@code
 * RevokeOutcome preview = client.admin().revoke("fleet/config", "node-7 is dead", 0, true, "alice");
 * }</pre>
 */
public interface AdminClient {
  /**
   * The leader's view of the cluster, asked of the first endpoint that answers and then of the
   * leader it names.
   */
  ClusterStatus status();

  /** What the node at {@code endpoint} says, whether or not it leads. */
  ClusterStatus memberStatus(String endpoint, Duration timeout);

  List<LockDescription> locks(String prefix);

  LockDescription lock(String name);

  List<SessionDescription> sessions();

  /**
   * Takes {@code lock} from its holder: to {@code successorSessionId} if not 0, else to the queue
   * (after the lock's lock-delay). {@code dryRun} only says what would happen.
   */
  RevokeOutcome revoke(String lock, String reason, long successorSessionId, boolean dryRun, String requestedBy);

  /**
   * As above, but only while the lock's token is {@code expectedToken} (0: any): the grant the
   * operator looked at. Otherwise nothing changes and a {@link StaleTokenException} says the
   * current token; a revoke re-run after a timeout so never takes the lock from its next holder.
   *
   * <pre>{@code
   * LockDescription l = client.admin().lock("fleet/config");
   * client.admin().revoke("fleet/config", "node-7 is dead", 0, false, "alice", l.token());
   * }</pre>
   */
  default RevokeOutcome revoke(String lock, String reason, long successorSessionId, boolean dryRun,
      String requestedBy, long expectedToken) {
    if (expectedToken == 0) {
      return revoke(lock, reason, successorSessionId, dryRun, requestedBy);
    }
    throw new UnsupportedOperationException("this AdminClient cannot make a revoke conditional on a token");
  }

  /** Ends a session now, releasing its locks as an expiry would; returns the locks released. */
  List<String> expireSession(long sessionId, String reason, String requestedBy);

  /** Audit entries after {@code afterIndex} (for {@code lock}, or all when empty), oldest first. */
  List<AuditRecord> audit(long afterIndex, String lock, int limit);
}
