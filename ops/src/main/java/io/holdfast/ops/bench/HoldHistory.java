package io.holdfast.ops.bench;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Every hold a bench saw, on one monotonic clock: from the moment {@code lock} returned to the
 * moment before the release was sent. A lock moves on only after the release is applied, so the
 * next holder's start must come after the previous holder's end, and tokens must grow in the
 * order the holds started. Any breach is a safety violation and fails the run.
 */
final class HoldHistory {
  record Hold(String lock, long sessionId, long token, long startNanos, long endNanos) {}

  private final Map<String, List<Hold>> byLock = new HashMap<>();

  synchronized void add(Hold h) {
    byLock.computeIfAbsent(h.lock(), k -> new ArrayList<>()).add(h);
  }

  synchronized int size() {
    return byLock.values().stream().mapToInt(List::size).sum();
  }

  /** Each violation, described; empty when every lock was exclusive and its tokens only grew. */
  synchronized List<String> violations() {
    List<String> out = new ArrayList<>();
    for (var e : byLock.entrySet()) {
      List<Hold> holds = new ArrayList<>(e.getValue());
      holds.sort(Comparator.comparingLong(Hold::startNanos));
      Hold prev = null;
      for (Hold h : holds) {
        if (prev != null) {
          if (h.startNanos() < prev.endNanos()) {
            out.add("lock " + e.getKey() + ": session " + h.sessionId() + " (token " + h.token() + ") held it "
                + (prev.endNanos() - h.startNanos()) / 1_000 + " µs before session " + prev.sessionId()
                + " (token " + prev.token() + ") let go");
          }
          if (h.token() <= prev.token()) {
            out.add("lock " + e.getKey() + ": token " + h.token() + " granted after token " + prev.token());
          }
        }
        prev = h;
      }
    }
    return out;
  }
}
