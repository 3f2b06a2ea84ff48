package io.holdfast.chaos;

import io.holdfast.chaos.History.Operation;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks the stores' decisions ({@code proc:"store", f:"store-write"} entries, written by
 * {@link FencedStore} in the order it decided them).
 *
 * <p>{@link #checkFenced}: (1) for each key the fenced store never accepted a token lower than one
 * it had already accepted (true by construction of the store; checked so that a broken store
 * cannot hide anything); (2) every write it accepted carries exactly the token of an {@code ok}
 * acquire, by the writing process, of the same key, completed before the write was decided. So
 * nothing reached the store without a real grant behind it; (3) no stale write was accepted: if
 * grant A returned before grant B of the same key was invoked, A's token must be below B's, so
 * once a write under B was accepted a write under A must be refused (this is what a server that
 * does not advance its tokens breaks, even though the store's own rule holds).
 *
 * <p>{@link #checkCanary}: the unfenced store accepts everything; it must show at least one
 * regression (an accepted token lower than one already accepted for the key): a holder that was
 * paused past its session's expiry wrote after its lock had moved on. If it shows none, the
 * nemesis did not bite and the run proves nothing.
 */
public final class FencingChecker {
  private FencingChecker() {}

  static List<Op> decisions(History history, String store) {
    List<Op> out = new ArrayList<>();
    for (Op op : history.ops()) {
      if ("store".equals(op.proc()) && "store-write".equals(op.f()) && store.equals(op.str("store"))) {
        out.add(op);
      }
    }
    out.sort(Comparator.comparingLong((Op o) -> o.longValue("seq")));
    return out;
  }

  /** Accepted writes whose token is lower than the highest accepted before, per key. */
  static List<String> regressions(List<Op> decisions) {
    List<String> out = new ArrayList<>();
    Map<String, Op> highest = new HashMap<>();
    for (Op d : decisions) {
      if (!Boolean.TRUE.equals(d.value().get("accepted"))) {
        continue;
      }
      Op best = highest.get(d.key());
      long token = d.longValue("token");
      if (best != null && token < best.longValue("token")) {
        out.add(d.str("writer") + " wrote " + d.key() + " with token " + token + " after " + best.str("writer")
            + "'s write with token " + best.longValue("token") + " had been accepted");
      } else {
        highest.put(d.key(), d);
      }
    }
    return out;
  }

  public static Verdict checkFenced(History history) {
    List<Op> decisions = decisions(history, "fenced");
    List<String> problems = new ArrayList<>(regressions(decisions));
    Map<String, List<Operation>> grants = new HashMap<>();
    for (Operation o : history.operations()) {
      if (o.f().equals("acquire") && o.ok()) {
        grants.computeIfAbsent(o.proc() + "|" + o.key() + "|" + o.completion().longValue("token"),
            k -> new ArrayList<>()).add(o);
      }
    }
    int accepted = 0;
    int refused = 0;
    Set<String> keys = new HashSet<>();
    Map<String, Operation> newestAcceptedGrant = new HashMap<>(); // per key: the latest-invoked grant written under
    for (Op d : decisions) {
      keys.add(d.key());
      if (!Boolean.TRUE.equals(d.value().get("accepted"))) {
        refused++;
        continue;
      }
      accepted++;
      List<Operation> g = grants.get(d.str("writer") + "|" + d.key() + "|" + d.longValue("token"));
      Operation grant = g == null ? null : g.stream().filter(ok -> ok.completion().t() < d.t())
          .max(Comparator.comparingLong(ok -> ok.completion().t())).orElse(null);
      if (grant == null) {
        problems.add("accepted write by " + d.str("writer") + " to " + d.key() + " with token " + d.longValue("token")
            + " matches no earlier ok acquire of that process, key and token");
        continue;
      }
      Operation newer = newestAcceptedGrant.get(d.key());
      if (newer != null && grant.completion().t() < newer.invoke().t()) {
        problems.add("stale write accepted on " + d.key() + ": " + d.str("writer") + " wrote with token "
            + d.longValue("token") + " from a grant that returned before " + newer.proc() + "'s grant (token "
            + newer.completion().longValue("token") + ") was invoked, after a write under that grant was accepted");
      }
      if (newer == null || grant.invoke().t() > newer.invoke().t()) {
        newestAcceptedGrant.put(d.key(), grant);
      }
    }
    return new Verdict("fencing", problems.isEmpty(), problems,
        accepted + " writes accepted, " + refused + " stale writes refused, on " + keys.size() + " keys");
  }

  /** Valid when the canary fired, i.e. the unfenced store shows at least one regression. */
  public static Verdict checkCanary(History history) {
    List<Op> decisions = decisions(history, "unfenced");
    List<String> regressions = regressions(decisions);
    if (regressions.isEmpty()) {
      return new Verdict("canary", false, List.of("faults did not bite: the unfenced store saw no stale write in "
          + decisions.size() + " writes"), "");
    }
    return new Verdict("canary", true, List.of(), "fired: " + regressions.size()
        + " stale write(s) accepted by the unfenced store, e.g. " + regressions.get(0));
  }
}
