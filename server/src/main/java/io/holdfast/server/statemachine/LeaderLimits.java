package io.holdfast.server.statemachine;

import io.holdfast.server.security.Identity;
import io.holdfast.server.state.Command;
import io.holdfast.server.state.HoldfastState;
import java.util.ArrayList;
import java.util.List;

/**
 * The leader's own limits, applied to a command a follower passed on before the leader logs it. A
 * follower builds a command with its own config's limits, and nodes' configs differ while a limit
 * is being changed one node at a time; without this a client could pick the follower whose limits
 * suit it, or send the leader an entry too large for it to replicate.
 *
 * @param maxEntryBytes the largest log entry this leader replicates
 * @param maxValueBytes the largest value a put may carry (max-value-bytes)
 * @param maxLocksPerSession see {@link Command.Acquire} (0: none)
 * @param maxWaitersPerLock see {@link Command.Acquire} (0: none)
 * @param maxSessionsPerIdentity see {@link Command.OpenSession} (0: none)
 * @param maxKvBytes see {@link Command.Put} (0: none)
 * @param maxSessions live sessions in the whole cluster (max-sessions; 0: none), checked against the
 *     leader's state before it logs an open, as the node that takes an open checks its own
 * @param times the bounds of the times a command may ask for
 */
public record LeaderLimits(long maxEntryBytes, long maxValueBytes, long maxLocksPerSession, long maxWaitersPerLock,
    long maxSessionsPerIdentity, long maxKvBytes, long maxSessions, Times times) {

  /**
   * The session TTLs, waits and lock-delays this leader allows, as its front door checks them. A
   * follower with wider bounds must not give the cluster a session whose dead holder keeps its
   * locks for longer than the leader's policy.
   */
  public record Times(long minTtlMs, long maxTtlMs, long maxWaitMs, long maxLockDelayMs) {
    /** No bounds beyond the types' (tests). */
    public static final Times ANY = new Times(1, Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE);
  }

  /**
   * Starts a refusal that a follower answers with RESOURCE_EXHAUSTED rather than INVALID_ARGUMENT:
   * the request is well formed, and may go through once sessions close.
   */
  public static final String LIMIT_REACHED = "limit reached: ";

  /** The refusal of an open past max-sessions, the same wherever it is checked. */
  public static String sessionLimitRefusal(int live, long maxSessions) {
    return "the cluster has " + live + " live sessions; the limit is " + maxSessions
        + " (max-sessions): close unused sessions, or raise it";
  }

  /**
   * Why this leader will not log {@code c} ({@code encodedBytes} long as sent), or null. Reads this
   * leader's state, for the cluster-wide session count, only for an open.
   */
  public String refusal(Command c, int encodedBytes, StateReader state) {
    if (encodedBytes > maxEntryBytes) {
      return LIMIT_REACHED + "the request makes a log entry of " + encodedBytes + " bytes; the limit is " + maxEntryBytes;
    }
    String bad = valueRefusal(c);
    if (bad == null && maxSessions > 0 && opens(c) > 0) {
      bad = state.read(s -> sessionRefusal(c, s));
    }
    return bad;
  }

  private String sessionRefusal(Command c, HoldfastState state) {
    if (c instanceof Command.OpenSession o && state.opensPastLimit(maxSessions, o.requestId(), o.exclusiveKey())) {
      return LIMIT_REACHED + sessionLimitRefusal(state.sessionCount(), maxSessions);
    }
    if (c instanceof Command.Batch b) {
      for (Command inner : b.commands()) {
        String bad = sessionRefusal(inner, state);
        if (bad != null) {
          return bad;
        }
      }
    }
    return null;
  }

  private static int opens(Command c) {
    if (c instanceof Command.OpenSession) {
      return 1;
    }
    int n = 0;
    if (c instanceof Command.Batch b) {
      for (Command inner : b.commands()) {
        n += opens(inner);
      }
    }
    return n;
  }

  private String valueRefusal(Command c) {
    if (c instanceof Command.Put p && p.valueLength() > maxValueBytes) {
      return "value is " + p.valueLength() + " bytes; the limit is " + maxValueBytes + " (max-value-bytes)";
    }
    if (c instanceof Command.OpenSession o && (o.ttlMs() < times.minTtlMs() || o.ttlMs() > times.maxTtlMs())) {
      return "ttl_ms " + o.ttlMs() + " is out of the leader's bounds [" + times.minTtlMs() + ", " + times.maxTtlMs()
          + "]";
    }
    if (c instanceof Command.Acquire a && (a.waitMs() < -1 || a.waitMs() > times.maxWaitMs())) {
      return "wait_ms must be -1 (until granted), 0 (try once) or up to " + times.maxWaitMs() + " (the leader's "
          + "max-wait-ms), got " + a.waitMs();
    }
    if (c instanceof Command.Acquire a && (a.lockDelayMs() < 0 || a.lockDelayMs() > times.maxLockDelayMs())) {
      return "lock_delay_ms must be between 0 and " + times.maxLockDelayMs() + " (the leader's max-lock-delay-ms), got "
          + a.lockDelayMs();
    }
    if (c instanceof Command.Batch b) {
      for (Command inner : b.commands()) {
        String bad = valueRefusal(inner);
        if (bad != null) {
          return bad;
        }
      }
    }
    return null;
  }

  /** {@code c} with this leader's limits in place of the ones the follower put in. */
  public Command relimit(Command c) {
    if (c instanceof Command.Acquire a) {
      return new Command.Acquire(a.requestId(), a.sessionId(), a.lockName(), a.waitMs(), a.lockDelayMs(),
          a.maxHoldMs(), maxLocksPerSession, maxWaitersPerLock);
    }
    if (c instanceof Command.OpenSession o) {
      // As the front door does: the anonymous identity is every unauthenticated client at once.
      String principal = o.client().principal();
      boolean perIdentity = !principal.isEmpty() && !principal.equals(Identity.ANONYMOUS.name());
      return new Command.OpenSession(o.requestId(), o.ttlMs(), o.client(), o.exclusiveKey(),
          perIdentity ? maxSessionsPerIdentity : 0);
    }
    if (c instanceof Command.Put p) {
      return new Command.Put(p.requestId(), p.key(), p.value(), p.expectedRevision(), p.fenceLock(), p.fenceToken(),
          maxKvBytes);
    }
    if (c instanceof Command.Batch b) {
      List<Command> inner = new ArrayList<>(b.commands().size());
      for (Command one : b.commands()) {
        inner.add(relimit(one));
      }
      return new Command.Batch(inner);
    }
    return c;
  }
}
