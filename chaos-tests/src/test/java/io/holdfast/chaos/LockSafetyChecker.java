package io.holdfast.chaos;

import io.holdfast.chaos.History.Operation;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Lock safety from the workers' history, without a linearizability search. The model is the one
 * the server promises: a grant's fencing token is the log index of the granting entry, so tokens
 * are unique and grow in the order grants happen. Three checks, each sound with a shared
 * monotonic clock ({@link Op}):
 *
 * <ol>
 *   <li><b>unique tokens</b>: no two {@code ok} acquires (any keys) carry the same token;
 *   <li><b>real-time token order</b>: for one key, if acquire A returned ok before acquire B was
 *       invoked, then A's grant preceded B's, so {@code token(A) < token(B)};
 *   <li><b>no overlapping certain holds</b>: a holder certainly held a key from its acquire's
 *       {@code ok} until the invoke of a release that returned {@code ok} (the server confirmed
 *       it still held it then). Two such intervals for one key must not overlap.
 *   <li><b>no valid lease after a newer grant</b>: a lease that says it is valid at
 *       {@code checked_t} ({@code lease-valid}) must not have seen a grant of its key with a higher
 *       token answered before then: that grant means the lease's own had ended (revoked at its
 *       max hold, its session expired), and the client promises to stop saying valid by then.
 * </ol>
 *
 * <p>What it does not do: acquires that ended {@code info} and holds that ended by expiry give no
 * certain interval, so a violation hidden entirely inside them is not seen here; a full
 * Wing-Gong/Porcupine search over a lock model with {@code expire} events is the next step.
 */
public final class LockSafetyChecker {
  private LockSafetyChecker() {}

  record Hold(String proc, String key, long token, long from, long to) {}

  public static Verdict check(History history) {
    List<Operation> ops = history.operations();
    Problems problems = new Problems();
    List<Operation> grants = new ArrayList<>();
    for (Operation o : ops) {
      if (o.f().equals("acquire") && o.ok()) {
        grants.add(o);
      }
    }

    // 1. unique tokens
    Map<Long, Operation> byToken = new HashMap<>();
    for (Operation g : grants) {
      long token = g.completion().longValue("token");
      Operation other = byToken.putIfAbsent(token, g);
      if (other != null) {
        problems.add("token " + token + " granted twice: " + describe(other) + " and " + describe(g));
      }
    }

    // 2. real-time order of tokens per key
    Map<String, List<Operation>> perKey = new HashMap<>();
    for (Operation g : grants) {
      perKey.computeIfAbsent(g.key(), k -> new ArrayList<>()).add(g);
    }
    // Each grant against the highest token answered before it was invoked (a pair at a time took
    // the square of a long history, and a broken build's runs are long).
    Map<String, List<Operation>> byEnd = new HashMap<>();
    Map<String, Operation[]> highestByEnd = new HashMap<>();
    for (Map.Entry<String, List<Operation>> e : perKey.entrySet()) {
      List<Operation> ended = new ArrayList<>(e.getValue());
      ended.sort(Comparator.comparingLong(Operation::endT));
      Operation[] highest = new Operation[ended.size()]; // the highest token among ended[0..i]
      for (int i = 0; i < ended.size(); i++) {
        Operation g = ended.get(i);
        highest[i] = i > 0 && token(highest[i - 1]) >= token(g) ? highest[i - 1] : g;
      }
      byEnd.put(e.getKey(), ended);
      highestByEnd.put(e.getKey(), highest);
      for (Operation b : e.getValue()) {
        Operation a = highestEndedBefore(ended, highest, b.invoke().t());
        if (a != null && token(a) >= token(b)) {
          problems.add("token order broken on " + a.key() + ": " + describe(a) + " completed before "
              + describe(b) + " was invoked, yet its token is not lower");
        }
      }
    }

    // 3. no overlapping certain holds
    Map<String, List<Hold>> holds = new HashMap<>();
    Map<String, Operation> lastGrant = new HashMap<>();
    for (Operation o : ops) {
      if (o.f().equals("acquire")) {
        lastGrant.remove(o.proc());
        if (o.ok()) {
          lastGrant.put(o.proc(), o);
        }
      } else if (o.f().equals("release") && o.ok()) {
        Operation g = lastGrant.remove(o.proc());
        long token = o.invoke().longValue("token");
        if (g != null && g.key().equals(o.key()) && g.completion().longValue("token") == token) {
          holds.computeIfAbsent(o.key(), k -> new ArrayList<>())
              .add(new Hold(o.proc(), o.key(), token, g.completion().t(), o.invoke().t()));
        }
      }
    }
    int holdCount = 0;
    for (List<Hold> list : holds.values()) {
      holdCount += list.size();
      list.sort(Comparator.comparingLong(Hold::from));
      Hold widest = null;
      for (Hold h : list) {
        if (widest != null && h.from() < widest.to()) {
          problems.add("two holders of " + h.key() + " at once: " + widest.proc() + " (token " + widest.token()
              + ") held it until " + widest.to() + " and " + h.proc() + " (token " + h.token() + ") from "
              + h.from());
        }
        if (widest == null || h.to() > widest.to()) {
          widest = h;
        }
      }
    }
    // 4. no valid lease after a newer grant of its key was answered
    int validChecks = 0;
    for (Op seen : history.ops()) {
      if (!seen.f().equals("lease-valid")) {
        continue;
      }
      validChecks++;
      long token = seen.longValue("token");
      long checkedT = seen.longValue("checked_t");
      Operation g = highestEndedBefore(byEnd.getOrDefault(seen.key(), List.of()),
          highestByEnd.getOrDefault(seen.key(), new Operation[0]), checkedT);
      if (g != null && token(g) > token) {
        problems.add(seen.proc() + "'s lease on " + seen.key() + " (token " + token + ") said valid at " + checkedT
            + ", after " + describe(g) + " was answered");
      }
    }
    return new Verdict("lock-safety", problems.isEmpty(), problems.list(),
        grants.size() + " ok acquires on " + perKey.size() + " keys, " + holdCount + " certain holds, "
        + validChecks + " valid-lease checks");
  }

  private static long token(Operation grant) {
    return grant.completion().longValue("token");
  }

  /** The grant with the highest token among those answered before {@code t}, or null. */
  private static Operation highestEndedBefore(List<Operation> byEnd, Operation[] highest, long t) {
    int lo = 0;
    int hi = byEnd.size(); // the first grant answered at or after t
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (byEnd.get(mid).endT() < t) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo == 0 ? null : highest[lo - 1];
  }

  private static String describe(Operation o) {
    return o.proc() + " acquire " + o.key() + " [" + o.invoke().t() + ".." + o.endT() + "] token "
        + o.completion().longValue("token");
  }
}
