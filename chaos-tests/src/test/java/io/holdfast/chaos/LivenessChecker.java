package io.holdfast.chaos;

import io.holdfast.chaos.History.Operation;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Liveness after the last fault healed, and agreement of the nodes afterwards.
 *
 * <p>{@link #checkRecovery}: of the operations (acquire, release, fenced write) invoked at least
 * {@code settleNanos} after the last heal, at least {@code minOkRatio} returned {@code ok}, and there
 * were at least {@code minOps} of them (a release refused after its grant's max hold could have run
 * out is left out: the cluster did as asked) (otherwise there is nothing to judge, which is a failure).
 * The settle time must cover a session TTL (a paused holder's lock comes back by expiry) plus
 * elections; the run states its value.
 *
 * <p>{@link #checkTables}: every node reports the same lock and session tables (read locally on
 * each node after the heal, without the fields that change by themselves).
 */
public final class LivenessChecker {
  private LivenessChecker() {}

  static boolean counted(Operation o) {
    return switch (o.f()) {
      case "acquire", "release" -> true;
      case "write" -> "fenced".equals(o.invoke().str("store"));
      default -> false;
    };
  }

  public static Verdict checkRecovery(History history, long lastHealT, long settleNanos, double minOkRatio,
      int minOps) {
    long from = lastHealT + settleNanos;
    int total = 0;
    int ok = 0;
    List<String> failed = new ArrayList<>();
    Map<String, Operation> grants = new java.util.HashMap<>();
    for (Operation o : history.operations()) {
      if (o.f().equals("acquire") && o.ok()) {
        grants.put(o.proc() + "|" + o.key() + "|" + o.completion().longValue("token"), o);
      }
      if (!counted(o) || o.invoke().t() < from) {
        continue;
      }
      if (o.f().equals("release") && o.outcome().equals("fail")) {
        Operation grant = grants.get(o.proc() + "|" + o.key() + "|" + o.invoke().longValue("token"));
        // By its answer: the revocation may have reached the leader before a release invoked just before it.
        if (grant != null && SessionTtlChecker.maxHoldRanOut(grant, o.endT())) {
          continue; // the cluster took the grant back at its max hold, as asked: nothing was unavailable
        }
      }
      total++;
      if (o.ok()) {
        ok++;
      } else {
        failed.add(o.proc() + " " + o.f() + " " + o.key() + " -> " + o.outcome()
            + (o.completion() == null ? "" : " " + o.completion().value()));
      }
    }
    String note = ok + "/" + total + " ok among ops invoked >= " + settleNanos / 1_000_000_000.0
        + " s after the last heal (need >= " + Math.round(minOkRatio * 100) + "%)";
    if (total < minOps) {
      return new Verdict("liveness-after-heal", false, List.of("only " + total + " ops after the settle time; need "
          + minOps + " to judge"), note);
    }
    boolean valid = ok >= minOkRatio * total;
    return new Verdict("liveness-after-heal", valid, valid ? List.of() : failed, note);
  }

  /**
   * After the heal, the harness's own client ({@code proc}) must have been granted every key: no
   * ghost holder, no orphan stuck past its session.
   */
  public static Verdict checkFinalGrants(History history, String proc, List<String> keys) {
    Problems problems = new Problems();
    for (String key : keys) {
      boolean granted = history.operations().stream()
          .anyMatch(o -> o.proc().equals(proc) && o.f().equals("acquire") && key.equals(o.key()) && o.ok());
      if (!granted) {
        problems.add(key + " was not granted to the final reader");
      }
    }
    return new Verdict("final-grants", problems.isEmpty(), problems.list(), keys.size() + " keys");
  }

  /** {@code tables}: node id to its lock rows (already rendered as comparable strings). */
  public static Verdict checkTables(Map<String, List<String>> tables) {
    Problems problems = new Problems();
    Map.Entry<String, List<String>> first = null;
    for (Map.Entry<String, List<String>> e : tables.entrySet()) {
      if (e.getValue() == null) {
        problems.add(e.getKey() + " did not answer");
        continue;
      }
      if (first == null) {
        first = e;
      } else if (!Objects.equals(first.getValue(), e.getValue())) {
        problems.add(e.getKey() + " reports " + e.getValue() + " but " + first.getKey() + " reports "
            + first.getValue());
      }
    }
    return new Verdict("lock-tables-agree", problems.isEmpty(), problems.list(), tables.size() + " nodes, "
        + (first == null ? 0 : first.getValue().size()) + " rows each");
  }

  /** The longest time no worker saw any operation succeed, between {@code from} and {@code to}. */
  public static long longestUnavailabilityNanos(History history, long from, long to) {
    List<Long> oks = new ArrayList<>();
    for (Operation o : history.operations()) {
      if (counted(o) && o.ok() && o.endT() >= from && o.endT() <= to) {
        oks.add(o.endT());
      }
    }
    oks.sort(null);
    long last = from;
    long longest = 0;
    for (long t : oks) {
      longest = Math.max(longest, t - last);
      last = t;
    }
    return Math.max(longest, to - last);
  }
}
