package io.holdfast.chaos;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What a history says about each session: its process, TTL, the send times of its acknowledged
 * keepalives ({@code f:"keepalive"} entries written by {@link ChaosWorker}), and when its process
 * gave it up (closing a session frees its locks at once, before any TTL runs out).
 *
 * <p>A session is named {@code proc/session-id} ({@code proc/-} when an entry carries no id, as
 * in hand-made histories).
 */
final class SessionFacts {
  /** Granted-lock takeovers within this much of the bound are not reported (sampling, rounding). */
  static final long TOLERANCE_NANOS = 100_000_000L;

  /**
   * {@code ackSends}: send times of acknowledged keepalives, ascending (the session's open counts
   * as one); {@code givenUpAt}: when its process closed or abandoned it, or its client declared it
   * expired (and so closed it on the server), whichever came first (Long.MAX_VALUE: never).
   */
  record Facts(String name, String proc, long ttlNanos, List<Long> ackSends, List<Ack> acks, long givenUpAt) {
    /**
     * The newest acknowledged keepalive whose answer arrived before {@code t}, or null. The
     * cluster renewed the session somewhere between its send and its answer: the send bounds the
     * earliest expiry (safety), the answer the latest (liveness: an open that waited out a whole
     * cluster restart renews the session seconds after it was sent).
     */
    Ack lastAckAnsweredBefore(long t) {
      Ack best = null;
      for (Ack a : acks) {
        if (a.answeredAt() < t && (best == null || a.answeredAt() > best.answeredAt())) {
          best = a;
        }
      }
      return best;
    }

    /** The send time of the newest keepalive acknowledged that was sent before {@code t}, or -1. */
    long lastAckSentBefore(long t) {
      long best = -1;
      for (long s : ackSends) {
        if (s < t) {
          best = s;
        }
      }
      return best;
    }

    /**
     * The earliest moment the cluster could have ended this session, as far as the history shows
     * (Long.MIN_VALUE if it shows nothing: then any moment).
     */
    long earliestEnd() {
      long byTtl = ackSends.isEmpty() ? Long.MIN_VALUE : ackSends.get(ackSends.size() - 1) + ttlNanos;
      return Math.min(byTtl, givenUpAt);
    }
  }

  /** One acknowledged keepalive: when it was sent, and when its answer arrived. */
  record Ack(long sentAt, long answeredAt) {}

  private SessionFacts() {}

  static String sessionOf(Op op) {
    Object s = op.value().get("session");
    return op.proc() + "/" + (s == null ? "-" : s.toString());
  }

  /** The client's safety margin (RealSession): TTL/10, at least 50 ms, at most 1 s; plus TTL/1000. */
  static long clientMarginNanos(long ttlNanos) {
    return Math.min(1_000_000_000L, Math.max(50_000_000L, ttlNanos / 10)) + ttlNanos / 1_000;
  }

  static Map<String, Facts> of(History history) {
    List<Op> ops = history.ops();
    Map<String, String> proc = new HashMap<>();
    Map<String, Long> ttl = new HashMap<>();
    Map<String, List<Long>> acks = new HashMap<>();
    Map<String, List<Ack>> answered = new HashMap<>();
    Map<String, Long> givenUp = new HashMap<>();
    Map<String, Long> clientGaveUp = new HashMap<>();
    Map<String, Long> lastSeen = new HashMap<>();
    Set<String> exited = new HashSet<>();
    Map<String, String> lastSessionOfProc = new HashMap<>();
    Map<String, List<long[]>> pausedProcs = new HashMap<>(); // worker proc -> {paused from, continued at}
    Map<String, Long> pausedSince = new HashMap<>();
    for (Op op : ops) {
      if (op.f() == null) {
        continue;
      }
      if (op.proc().equals("nemesis") && op.key() != null && op.f().equals("pause")) {
        pausedSince.put(op.key(), op.t());
      } else if (op.proc().equals("nemesis") && op.key() != null && op.f().equals("resume")
          && op.value().containsKey("signalled_t") && pausedSince.containsKey(op.key())) {
        pausedProcs.computeIfAbsent(op.key(), k -> new java.util.ArrayList<>())
            .add(new long[] {pausedSince.remove(op.key()), op.longValue("signalled_t")});
      }
      if (op.f().equals("exit")) {
        exited.add(op.proc());
        continue;
      }
      boolean aboutSessions = op.f().equals("keepalive") || op.f().equals("session-lost");
      if (!op.value().containsKey("session") && !aboutSessions) {
        continue;
      }
      String s = sessionOf(op);
      proc.putIfAbsent(s, op.proc());
      lastSeen.put(s, op.t());
      lastSessionOfProc.put(op.proc(), s);
      if (op.f().equals("keepalive")) {
        ttl.put(s, op.longValue("ttl_ms") * 1_000_000L);
        acks.computeIfAbsent(s, k -> new java.util.ArrayList<>()).add(op.longValue("ack_sent_t"));
        answered.computeIfAbsent(s, k -> new java.util.ArrayList<>()).add(new Ack(op.longValue("ack_sent_t"), op.t()));
      } else if (op.f().equals("session-lost")) {
        if (op.value().containsKey("given_up_t")) {
          clientGaveUp.merge(s, op.longValue("given_up_t"), Math::min);
        } else {
          givenUp.merge(s, op.t(), Math::min);
        }
      }
    }
    // The worker may notice late; given_up_t says when its client gave the session up. Only a
    // give-up on the client's own deadline excuses a takeover: a client told by the cluster that
    // its session is gone learned of an expiry, it did not cause one.
    // A stopped process gives nothing up: a deadline that passed while its worker was paused
    // (SIGSTOP) took effect only once it was continued.
    clientGaveUp.forEach((s, at) -> {
      long t = ttl.getOrDefault(s, 0L);
      java.util.OptionalLong lastAck = acks.getOrDefault(s, List.of()).stream().mapToLong(Long::longValue).max();
      long ownDeadline = lastAck.isPresent() ? lastAck.getAsLong() + t - clientMarginNanos(t) : Long.MIN_VALUE;
      long gaveUp = Math.max(at, ownDeadline);
      for (long[] pause : pausedProcs.getOrDefault(proc.get(s), List.of())) {
        if (gaveUp >= pause[0] && gaveUp < pause[1]) {
          gaveUp = pause[1];
        }
      }
      givenUp.merge(s, gaveUp, Math::min);
    });
    // A process that exited closed its last session after its last entry about it.
    for (String p : exited) {
      String s = lastSessionOfProc.get(p);
      if (s != null) {
        givenUp.putIfAbsent(s, lastSeen.get(s));
      }
    }
    Map<String, Facts> out = new HashMap<>();
    for (String s : proc.keySet()) {
      List<Long> a = new java.util.ArrayList<>(acks.getOrDefault(s, List.of()));
      a.sort(null);
      out.put(s, new Facts(s, proc.get(s), ttl.getOrDefault(s, 0L), List.copyOf(a),
          List.copyOf(answered.getOrDefault(s, List.of())), givenUp.getOrDefault(s, Long.MAX_VALUE)));
    }
    return out;
  }
}
