package io.holdfast.chaos;

import io.holdfast.chaos.History.Operation;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * A Wing–Gong search with memoisation (the Porcupine way), per lock key, over this model of one
 * lock: {@code (holder session or none, holder's token, highest token granted)}.
 *
 * <ul>
 *   <li>{@code acquire ok(token)}: the lock is free and {@code token} is higher than every earlier
 *       grant's; the caller's session becomes the holder;
 *   <li>{@code release ok(token)}: the caller's session holds the lock with that token; frees it;
 *   <li>an acquire or release that ended {@code info} (or never ended) may take effect at any point
 *       after its invoke, or never: it has no return time, and its step may leave the state alone;
 *   <li>an acquire that ended {@code fail} is left out. A wait that timed out is confirmed by the
 *       client only after it withdrew the wait, and a grant that won that race is given straight
 *       back, so it either never happened or was a grant + release no one else could see; leaving
 *       such a pair out never makes a valid history invalid. A failed release is left out too: the
 *       client may fail it locally (its session's deadline passed) while the server still holds.
 * </ul>
 *
 * <p><b>Expiry.</b> A lock held by session S may pass to another session without a release only if
 * S could have ended by then: the acquire that takes it must return at or after S's earliest end
 * in {@link SessionFacts} (newest acknowledged keepalive send + TTL, or when S's process gave it
 * up), less {@link SessionFacts#TOLERANCE_NANOS}. A session the history knows no keepalives of may
 * end any time. Expiry is folded into that acquire's step rather than searched as an operation of
 * its own: it keeps the search narrow, and it can only make the checker more lenient.
 *
 * <p><b>Max hold.</b> A grant asked for with a max hold may also pass on without a release once
 * that long has gone by since it could first have been made (less the same tolerance): after its
 * acquire's invoke, and after the lock could have become free (the call of the release before it,
 * or when the holder before it could have ended). The cluster counts the hold from the grant, on a
 * clock no faster than real time.
 *
 * <p>The search explores at most {@code budget} states per key; running out is a failure ("could
 * not decide"), never a pass.
 */
public final class LinearizabilityChecker {
  public static final int DEFAULT_BUDGET = 300_000;
  private static final int NONE = -1;
  private static final long UNKNOWN = Long.MIN_VALUE;

  private LinearizabilityChecker() {}

  enum Kind { ACQUIRE, RELEASE }

  /** One operation on a key; {@code ret == Long.MAX_VALUE} for an indeterminate one. */
  /** {@code maxHoldNanos}: for an acquire that asked for a max hold (0: none). */
  record LinOp(Kind kind, int session, long call, long ret, long token, boolean maybe, long maxHoldNanos, String label) {}

  /**
   * {@code since}: while held, the earliest the cluster may take the holder's grant back (its max
   * hold; MAX_VALUE without one); while free, the earliest it may have become free.
   */
  record State(int holder, long holderToken, long highest, long since) {}

  /**
   * A state the search has been in: the operations done, as the first not done ({@code base}) and
   * the done ones after it (bit 0 = {@code base}), and the model's state. Ops are sorted by call and
   * only a window of concurrent ones is ever open, so this stays small however long the history
   * (a bit set over all of a key's operations made 30,000 acquires run the checker out of heap).
   */
  private record Seen(int base, BitSet doneAfterBase, State state) {
    static Seen of(BitSet done, State state) {
      int base = done.nextClearBit(0);
      return new Seen(base, done.get(base, Math.max(base, done.length())), state);
    }
  }

  private static final class OutOfBudget extends RuntimeException {
    OutOfBudget() {
      super(null, null, false, false);
    }
  }

  public static Verdict check(History history) {
    return check(history, DEFAULT_BUDGET);
  }

  public static Verdict check(History history, int budget) {
    Map<String, SessionFacts.Facts> facts = SessionFacts.of(history);
    Map<String, Integer> sessionIds = new HashMap<>();
    List<Long> earliestEnd = new ArrayList<>();
    List<String> names = new ArrayList<>();
    Map<String, List<LinOp>> perKey = new TreeMap<>();
    // A release that names no session (the harness's prober) is by the session its token was granted to.
    Map<String, String> grantedTo = new HashMap<>();
    for (Operation o : history.operations()) {
      if (o.key() == null || !(o.f().equals("acquire") || o.f().equals("release")) || o.outcome().equals("fail")) {
        continue;
      }
      String s = SessionFacts.sessionOf(o.invoke());
      if (o.f().equals("acquire") && o.ok()) {
        grantedTo.put(o.proc() + "|" + o.key() + "|" + o.completion().longValue("token"), s);
      } else if (o.f().equals("release") && !o.invoke().value().containsKey("session")) {
        s = grantedTo.getOrDefault(o.proc() + "|" + o.key() + "|" + o.invoke().longValue("token"), s);
      }
      int id = sessionIds.computeIfAbsent(s, k -> {
        SessionFacts.Facts f = facts.get(k);
        long end = f == null ? Long.MIN_VALUE : f.earliestEnd();
        earliestEnd.add(end == Long.MIN_VALUE ? Long.MIN_VALUE : end - SessionFacts.TOLERANCE_NANOS);
        names.add(k);
        return earliestEnd.size() - 1;
      });
      boolean maybe = !o.ok();
      Kind kind = o.f().equals("acquire") ? Kind.ACQUIRE : Kind.RELEASE;
      long token = kind == Kind.ACQUIRE ? (maybe ? UNKNOWN : o.completion().longValue("token"))
          : o.invoke().longValue("token");
      String label = o.proc() + " " + o.f() + " " + o.outcome() + (token == UNKNOWN ? "" : " token " + token) + " ["
          + o.invoke().t() + ".." + (maybe ? "" : o.completion().t()) + "]";
      long maxHoldMs = kind == Kind.ACQUIRE ? Math.max(0, o.invoke().longValue("max_hold_ms")) : 0;
      perKey.computeIfAbsent(o.key(), k -> new ArrayList<>()).add(new LinOp(kind, id, o.invoke().t(),
          maybe ? Long.MAX_VALUE : o.completion().t(), token, maybe, TimeUnit.MILLISECONDS.toNanos(maxHoldMs), label));
    }
    Problems problems = new Problems();
    long states = 0;
    int ops = 0;
    for (Map.Entry<String, List<LinOp>> e : perKey.entrySet()) {
      Search search = new Search(e.getValue(), earliestEnd, names, budget);
      ops += e.getValue().size();
      Boolean ok = search.run();
      states += search.explored;
      if (ok == null) {
        problems.add("could not decide " + e.getKey() + ": search budget of " + budget + " states used up ("
            + e.getValue().size() + " operations)");
      } else if (!ok) {
        problems.add("not linearizable on " + e.getKey() + ": no order fits; the longest valid prefix (" + search.bestDepth
            + " of " + e.getValue().size() + " operations) could not go on with any of: " + search.stuckAt);
      }
    }
    return new Verdict("linearizable", problems.isEmpty(), problems.list(),
        ops + " operations on " + perKey.size() + " keys, " + states + " states explored (budget " + budget + "/key)");
  }

  /** The search on one key. Runs on its own thread for a deep stack (one frame per operation). */
  private static final class Search {
    private final List<LinOp> ops;
    private final List<Long> earliestEnd;
    private final List<String> names;
    private final int budget;
    private final Set<Seen> seen = new HashSet<>();
    long explored;
    int bestDepth = -1;
    String stuckAt = "";

    Search(List<LinOp> ops, List<Long> earliestEnd, List<String> names, int budget) {
      this.names = names;
      this.ops = new ArrayList<>(ops);
      this.ops.sort(Comparator.comparingLong(LinOp::call));
      this.earliestEnd = earliestEnd;
      this.budget = budget;
    }

    /** TRUE linearizable, FALSE not, null out of budget. */
    Boolean run() {
      Boolean[] out = new Boolean[1];
      RuntimeException[] failed = new RuntimeException[1];
      Thread t = new Thread(null, () -> {
        try {
          out[0] = dfs(new BitSet(ops.size()), 0, new State(NONE, UNKNOWN, UNKNOWN, Long.MIN_VALUE));
        } catch (OutOfBudget e) {
          out[0] = null;
        } catch (RuntimeException e) {
          failed[0] = e;
        }
      }, "linearizability", 512L << 20);
      t.start();
      try {
        t.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return null;
      }
      if (failed[0] != null) {
        throw failed[0];
      }
      return out[0];
    }

    private boolean dfs(BitSet done, int depth, State state) {
      if (depth == ops.size()) {
        return true;
      }
      if (++explored > budget) {
        throw new OutOfBudget();
      }
      // An operation may go next only if no pending operation returned before it was invoked.
      // Ops are sorted by call and none returns before its call, so the scan can stop at the first
      // op called after the earliest return so far (it would otherwise walk the whole rest).
      long minRet = Long.MAX_VALUE;
      for (int i = done.nextClearBit(0); i < ops.size() && ops.get(i).call() <= minRet; i = done.nextClearBit(i + 1)) {
        minRet = Math.min(minRet, ops.get(i).ret());
      }
      List<String> tried = depth > bestDepth ? new ArrayList<>() : null;
      for (int i = done.nextClearBit(0); i < ops.size() && ops.get(i).call() <= minRet; i = done.nextClearBit(i + 1)) {
        LinOp op = ops.get(i);
        if (tried != null && tried.size() < 6) {
          tried.add(op.label());
        }
        // One bit set for the whole search, set and cleared around each step: a copy per frame
        // grew with the square of the history.
        done.set(i);
        for (State next : step(state, op)) {
          if (seen.add(Seen.of(done, next)) && dfs(done, depth + 1, next)) {
            return true;
          }
        }
        done.clear(i);
      }
      if (tried != null && depth > bestDepth) {
        bestDepth = depth;
        stuckAt = String.join("; ", tried) + " (state: " + describe(state) + ")";
      }
      return false;
    }

    /** The states {@code op} may lead to from {@code s}; empty if it cannot happen there. */
    private List<State> step(State s, LinOp op) {
      List<State> out = new ArrayList<>(2);
      if (op.maybe()) {
        out.add(s); // never took effect (tried first: it constrains the least)
      }
      if (op.kind() == Kind.ACQUIRE) {
        boolean free;
        long freeFrom; // the earliest the lock may have become free
        if (s.holder() == NONE) {
          free = true;
          freeFrom = s.since();
        } else {
          long ended = s.holder() != op.session() ? earliestEnd.get(s.holder()) : Long.MAX_VALUE; // its session
          freeFrom = Math.min(ended, s.since()); // or its grant's max hold ran out
          free = op.ret() >= freeFrom;
        }
        boolean higher = op.token() == UNKNOWN || s.highest() == UNKNOWN || op.token() > s.highest();
        if (free && higher) {
          // Granted after its invoke and once the lock was free; the hold counts from then.
          long revocableAt = op.maxHoldNanos() == 0 ? Long.MAX_VALUE
              : Math.max(op.call(), freeFrom) + op.maxHoldNanos() - SessionFacts.TOLERANCE_NANOS;
          out.add(new State(op.session(), op.token(), op.token() == UNKNOWN ? s.highest() : op.token(), revocableAt));
        }
      } else if (s.holder() == op.session() && (s.holderToken() == UNKNOWN || s.holderToken() == op.token())) {
        out.add(new State(NONE, UNKNOWN, s.highest(), op.call()));
      }
      return out;
    }

    private String describe(State s) {
      String highest = s.highest() == UNKNOWN ? "none" : Long.toString(s.highest());
      return s.holder() == NONE ? "free, highest token " + highest
          : "held by " + names.get(s.holder()) + " with token "
              + (s.holderToken() == UNKNOWN ? "unknown" : s.holderToken()) + ", highest " + highest;
    }
  }
}
