package io.holdfast.chaos;

import io.holdfast.chaos.History.Operation;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The session TTL, both ways, from the workers' keepalive records ({@link SessionFacts}).
 *
 * <p><b>Not too early.</b> When a lock passes from session P to another session without P
 * releasing it first (P's next release was not invoked before the new grant returned, or failed),
 * P's session must have ended: the new grant must return no earlier than P's newest acknowledged
 * keepalive sent before that return, plus TTL, less {@link SessionFacts#TOLERANCE_NANOS} (100 ms;
 * the server counts the TTL from when it received that keepalive, so a correct server is never
 * early at all). A session that P's process gave up may go earlier: closed by the worker, or
 * declared expired by its client (no keepalive acknowledged within TTL less the client's margin),
 * which closes it on the server at once. Such a close is told from a server's early expiry only by
 * time, so an expiry early by less than the client's margin (TTL/10) can pass unseen here.
 *
 * <p><b>Not too late.</b> For each worker pause that caught a held lock (the nemesis {@code pause}
 * entry names {@code held_key}): if someone was waiting for the lock, it must be granted to another
 * process within the holder's newest acknowledged keepalive send before the pause + TTL +
 * {@code reclaimBound}. Checked only while the holder was still paused at that deadline.
 *
 * <p>A grant asked for with a max hold may also pass on once that hold has run out.
 */
public final class SessionTtlChecker {
  /** Expiry scan, failover grace, one renewal checkpoint, an election: 4 s covers them. */
  public static final long DEFAULT_RECLAIM_BOUND_NANOS = TimeUnit.SECONDS.toNanos(4);

  private SessionTtlChecker() {}

  public static Verdict check(History history) {
    return check(history, DEFAULT_RECLAIM_BOUND_NANOS);
  }

  public static Verdict check(History history, long reclaimBoundNanos) {
    Map<String, SessionFacts.Facts> facts = SessionFacts.of(history);
    List<Operation> ops = history.operations();
    Problems problems = new Problems();
    int takeovers = early(ops, facts, problems);
    String reclaims = late(history, ops, facts, reclaimBoundNanos, problems);
    return new Verdict("session-ttl", problems.isEmpty(), problems.list(),
        takeovers + " takeovers without release checked against the holder's TTL" + reclaims);
  }

  /** Grants that took a lock from a live session. Returns how many takeovers were checked. */
  private static int early(List<Operation> ops, Map<String, SessionFacts.Facts> facts, Problems problems) {
    Map<String, List<Operation>> grants = new HashMap<>();
    for (Operation o : ops) {
      if (o.f().equals("acquire") && o.ok()) {
        grants.computeIfAbsent(o.key(), k -> new ArrayList<>()).add(o);
      }
    }
    int checked = 0;
    for (List<Operation> list : grants.values()) {
      // The server's own order of grants is the token order; completion time breaks ties.
      list.sort(Comparator.comparingLong((Operation o) -> o.completion().longValue("token"))
          .thenComparingLong(o -> o.completion().t()));
      for (int i = 1; i < list.size(); i++) {
        Operation prev = list.get(i - 1);
        Operation next = list.get(i);
        String p = SessionFacts.sessionOf(prev.invoke());
        if (p.equals(SessionFacts.sessionOf(next.invoke())) || releasedBefore(ops, prev, next.completion().t())
            || maxHoldRanOut(prev, next.completion().t())) {
          continue;
        }
        SessionFacts.Facts f = facts.get(p);
        long granted = next.completion().t();
        if (f == null || f.ttlNanos() == 0 || f.givenUpAt() <= granted) {
          continue;
        }
        checked++;
        long ack = f.lastAckSentBefore(granted);
        if (ack < 0) {
          continue;
        }
        long early = ack + f.ttlNanos() - granted;
        if (early > SessionFacts.TOLERANCE_NANOS) {
          problems.add(String.format("%s granted to %s (token %d) %.2f s before %s could have expired: its keepalive "
              + "sent at %d was acknowledged, TTL %d ms, grant returned at %d", next.key(), next.proc(),
              next.completion().longValue("token"), early / 1e9, p, ack, f.ttlNanos() / 1_000_000, granted));
        }
      }
    }
    return checked;
  }

  /**
   * Whether {@code grant} asked for a max hold that had run out by {@code t}: counted from its
   * invoke (the grant came later), less the tolerance. The cluster takes such a grant back with
   * its session alive.
   */
  static boolean maxHoldRanOut(Operation grant, long t) {
    long maxHoldMs = grant.invoke().longValue("max_hold_ms");
    return maxHoldMs > 0
        && t >= grant.invoke().t() + TimeUnit.MILLISECONDS.toNanos(maxHoldMs) - SessionFacts.TOLERANCE_NANOS;
  }

  /** Whether {@code grant}'s process invoked a release of it before {@code t} that did not fail. */
  private static boolean releasedBefore(List<Operation> ops, Operation grant, long t) {
    long token = grant.completion().longValue("token");
    for (Operation o : ops) {
      if (o.f().equals("release") && o.proc().equals(grant.proc()) && grant.key().equals(o.key())
          && o.invoke().longValue("token") == token && o.invoke().t() > grant.completion().t()
          && o.invoke().t() < t && !o.outcome().equals("fail")) {
        return true;
      }
    }
    return false;
  }

  /** Orphans (held by a paused worker) that were not re-granted in time. Returns a note. */
  private static String late(History history, List<Operation> ops, Map<String, SessionFacts.Facts> facts,
      long bound, Problems problems) {
    long slowest = Long.MIN_VALUE;
    int orphans = 0;
    for (Op pause : history.ops()) {
      if (!"nemesis".equals(pause.proc()) || !"pause".equals(pause.f()) || pause.str("held_key") == null) {
        continue;
      }
      String key = pause.str("held_key");
      String holder = pause.key(); // nemesis entries name their target in "key"
      Operation grant = ops.stream().filter(o -> o.proc().equals(holder) && key.equals(o.key()) && o.ok()
          && o.f().equals("acquire") && o.completion().longValue("token") == pause.longValue("held_token"))
          .findFirst().orElse(null);
      SessionFacts.Facts f = grant == null ? null : facts.get(SessionFacts.sessionOf(grant.invoke()));
      if (f == null || f.ttlNanos() == 0) {
        continue;
      }
      // Liveness: from the answer of its last keepalive (the latest the cluster can have renewed it).
      SessionFacts.Ack last = f.lastAckAnsweredBefore(pause.t());
      if (last == null) {
        continue;
      }
      long ack = last.answeredAt();
      long resumed = history.ops().stream().filter(op -> "nemesis".equals(op.proc()) && op.t() > pause.t()
          && holder.equals(op.key()) && List.of("resume", "heal-all").contains(op.f())).mapToLong(Op::t)
          .findFirst().orElse(Long.MAX_VALUE);
      long deadline = ack + f.ttlNanos() + bound;
      Operation regrant = ops.stream().filter(o -> o.f().equals("acquire") && o.ok() && key.equals(o.key())
          && !o.proc().equals(holder) && o.completion().t() > pause.t()).min(Comparator.comparingLong(o -> o.completion().t()))
          .orElse(null);
      orphans++;
      long expiresAt = ack + f.ttlNanos();
      if (regrant != null && regrant.completion().t() <= Math.max(deadline, resumed)) {
        long after = regrant.completion().t() - expiresAt;
        slowest = Math.max(slowest, after);
        if (regrant.completion().t() > deadline) {
          problems.add(String.format("orphan %s of paused %s re-granted %.2f s after its session could expire "
              + "(bound %.1f s)", key, holder, after / 1e9, bound / 1e9));
        }
        continue;
      }
      if (resumed <= deadline) {
        continue; // the holder came back before the bound ran out: nothing to claim
      }
      // Not re-granted by the deadline: a failure only if someone was waiting then.
      Operation waiter = ops.stream().filter(o -> o.f().equals("acquire") && key.equals(o.key())
          && !o.proc().equals(holder) && o.invoke().t() <= deadline && o.endT() > deadline).findFirst().orElse(null);
      if (waiter != null) {
        problems.add(String.format("orphan %s of paused %s not re-granted within TTL + %.1f s of its last "
            + "acknowledged keepalive although %s was waiting", key, holder, bound / 1e9, waiter.proc()));
      }
    }
    if (orphans == 0) {
      return "; no orphaned locks";
    }
    return slowest == Long.MIN_VALUE ? String.format("; %d orphan(s), none re-granted while its holder was paused", orphans)
        : String.format("; %d orphan(s), slowest re-grant %+.2f s from when the holder's session could expire (bound %.1f s)",
            orphans, slowest / 1e9, bound / 1e9);
  }
}
