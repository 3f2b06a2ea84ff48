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
    Problems problems = new Problems(regressions(decisions));
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
    return new Verdict("fencing", problems.isEmpty(), problems.list(),
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

  // ---------------------------------------------------------------- Holdfast's own KV

  /** The {@code store:"kv"} writes (fenced puts on Holdfast's KV), recorded by the writers themselves. */
  static List<Operation> kvWrites(History history) {
    return history.operations().stream()
        .filter(o -> o.f().equals("write") && "kv".equals(o.invoke().str("store"))).toList();
  }

  /** Certainly applied: the put returned. */
  static boolean kvAccepted(Operation o) {
    return o.ok();
  }

  /** Certainly not applied: the server refused it (stale token, bad argument). */
  static boolean kvRefused(Operation o) {
    return o.completion() != null && o.completion().type().equals("fail");
  }

  /** Maybe applied (info, or never answered): it may take effect at any time after its invoke, or never. */
  static boolean kvMaybe(Operation o) {
    return !kvAccepted(o) && !kvRefused(o);
  }

  /**
   * The fenced puts on Holdfast's KV. There is no decision log here (the server decides in its
   * apply order, which the history does not see), so "already accepted" is real time: a put that
   * returned ok before another was invoked was applied first. (1) No put accepted with a token lower
   * than that of a put accepted (ok) before it was invoked. (2) Every accepted put carries the token
   * of an ok acquire, by the writing process, of the same lock, completed before the put was
   * invoked. (3) No stale put accepted: grant A returned before grant B of the same lock was
   * invoked, a put under B returned ok, and afterwards a put under A was invoked and returned ok.
   * Maybe-applied ({@code info}) puts are never evidence of a violation (they may not have been
   * applied); refused ({@code fail}) ones are certainly not applied.
   */
  public static Verdict checkKv(History history) {
    List<Operation> writes = kvWrites(history);
    Map<String, List<Operation>> grants = new HashMap<>();
    for (Operation o : history.operations()) {
      if (o.f().equals("acquire") && o.ok()) {
        grants.computeIfAbsent(o.proc() + "|" + o.key() + "|" + o.completion().longValue("token"),
            k -> new ArrayList<>()).add(o);
      }
    }
    Problems problems = new Problems();
    Map<String, List<Operation[]>> acceptedByKey = new HashMap<>(); // {write, grant}
    int accepted = 0;
    int refusedStale = 0;
    int refusedOther = 0;
    int maybe = 0;
    Set<String> keys = new HashSet<>();
    for (Operation w : writes) {
      keys.add(w.key());
      if (kvRefused(w)) {
        if ("stale token refused".equals(w.completion().str("error"))) {
          refusedStale++;
        } else {
          refusedOther++;
        }
        continue;
      }
      if (kvMaybe(w)) {
        maybe++;
        continue;
      }
      accepted++;
      long token = w.invoke().longValue("token");
      List<Operation> g = grants.get(w.proc() + "|" + w.key() + "|" + token);
      Operation grant = g == null ? null : g.stream().filter(ok -> ok.completion().t() < w.invoke().t())
          .max(Comparator.comparingLong(ok -> ok.completion().t())).orElse(null);
      if (grant == null) {
        problems.add("accepted KV put by " + w.proc() + " on " + w.key() + " with token " + token
            + " matches no earlier ok acquire of that process, lock and token");
      }
      acceptedByKey.computeIfAbsent(w.key(), k -> new ArrayList<>()).add(new Operation[] {w, grant});
    }
    for (List<Operation[]> list : acceptedByKey.values()) {
      for (Operation[] later : list) {
        long token = later[0].invoke().longValue("token");
        Operation[] worst = null;
        for (Operation[] earlier : list) {
          if (earlier[0].completion().t() < later[0].invoke().t()
              && earlier[0].invoke().longValue("token") > token
              && (worst == null || earlier[0].invoke().longValue("token") > worst[0].invoke().longValue("token"))) {
            worst = earlier;
          }
        }
        if (worst != null) {
          problems.add("KV put by " + later[0].proc() + " on " + later[0].key() + " with token " + token
              + " accepted after " + worst[0].proc() + "'s put with token " + worst[0].invoke().longValue("token")
              + " had been accepted");
          continue;
        }
        if (later[1] == null) {
          continue;
        }
        for (Operation[] earlier : list) {
          if (earlier[1] != null && earlier[0].completion().t() < later[0].invoke().t()
              && later[1].completion().t() < earlier[1].invoke().t()) {
            problems.add("stale KV put accepted on " + later[0].key() + ": " + later[0].proc() + " wrote with token "
                + token + " from a grant that returned before " + earlier[0].proc() + "'s grant (token "
                + earlier[0].invoke().longValue("token") + ") was invoked, after a put under that grant was accepted");
            break;
          }
        }
      }
    }
    return new Verdict("kv-fencing", problems.isEmpty(), problems.list(), accepted + " KV writes accepted, " + refusedStale
        + " refused as stale" + (refusedOther == 0 ? "" : ", " + refusedOther + " refused otherwise") + ", " + maybe
        + " maybe applied (info), on " + keys.size() + " locks");
  }

  /**
   * The KV read back at the end ({@code f:"kv-read"}, ok, under the lock's name, with
   * {@code found}, {@code token} = the stored fence token, {@code value}): the final value must be
   * that of a put with the highest accepted token, or of a maybe-applied put with a token at least
   * that high (an info put may have been applied); never of a refused put, never older.
   */
  public static Verdict checkKvFinal(History history) {
    List<Operation> writes = kvWrites(history);
    Problems problems = new Problems();
    List<String> facts = new ArrayList<>();
    int reads = 0;
    for (Op r : history.ops()) {
      if (!r.is("ok", "kv-read")) {
        continue;
      }
      reads++;
      String key = r.key();
      List<Operation> mine = writes.stream().filter(w -> w.key().equals(key)).toList();
      long highest = mine.stream().filter(FencingChecker::kvAccepted).mapToLong(w -> w.invoke().longValue("token"))
          .max().orElse(0);
      if (!Boolean.TRUE.equals(r.value().get("found"))) {
        if (highest > 0) {
          problems.add(key + ": the KV key is gone, but a put with token " + highest + " was accepted");
        }
        facts.add(key + " absent");
        continue;
      }
      long token = r.longValue("token");
      String value = r.str("value");
      Operation source = mine.stream().filter(w -> w.invoke().longValue("token") == token
          && value != null && value.equals(w.invoke().str("value"))).findFirst().orElse(null);
      if (source == null) {
        problems.add(key + ": final KV value '" + value + "' (token " + token + ") matches no recorded put");
      } else if (kvRefused(source)) {
        problems.add(key + ": final KV value '" + value + "' (token " + token + ") is that of a refused put by "
            + source.proc());
      } else if (token < highest) {
        problems.add(key + ": final KV value carries token " + token + ", below the highest accepted token "
            + highest);
      } else if (kvMaybe(source) && token > highest) {
        facts.add(key + " token " + token + " (a maybe-applied put; highest accepted " + highest + ")");
        continue;
      }
      if (source != null) {
        facts.add(key + " token " + token);
      }
    }
    if (reads == 0) {
      problems.add("no final KV read recorded");
    }
    return new Verdict("kv-final", problems.isEmpty(), problems.list(), "final values: " + String.join(", ", facts));
  }

  /**
   * The paused-worker case on the KV: a worker SIGSTOPped holding a lock ({@code nemesis pause}
   * with {@code held_key}, {@code held_token}), whose session expired and whose lock the prober then
   * took, must have its late KV put with the old token refused. Valid when at least one such late
   * put was refused as stale and none was accepted.
   */
  public static Verdict checkKvPaused(History history) {
    List<Operation> writes = kvWrites(history);
    Problems problems = new Problems();
    int refused = 0;
    int maybe = 0;
    for (Op p : history.ops()) {
      if (!"nemesis".equals(p.proc()) || !"pause".equals(p.f()) || p.value().get("held_key") == null) {
        continue;
      }
      String key = p.str("held_key");
      long token = p.longValue("held_token");
      String worker = p.key();
      for (Operation w : writes) {
        if (!w.proc().equals(worker) || !w.key().equals(key) || w.invoke().longValue("token") != token
            || w.invoke().t() < p.t()) {
          continue;
        }
        if (kvAccepted(w)) {
          problems.add("paused " + worker + "'s late KV put on " + key + " with token " + token + " was accepted");
        } else if (kvRefused(w)) {
          refused++;
        } else {
          maybe++;
        }
      }
    }
    if (problems.isEmpty() && refused == 0) {
      problems.add("no paused holder's late KV put was refused as stale (" + maybe + " unanswered): the pause did"
          + " not bite on the KV");
    }
    return new Verdict("kv-paused", problems.isEmpty(), problems.list(), refused + " late KV put(s) of paused holders refused"
        + (maybe == 0 ? "" : ", " + maybe + " unanswered"));
  }
}
