package io.holdfast.server.state;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The results of recent requests, so that a retried request returns what the first attempt did
 * instead of acting twice. Part of the replicated state, so every replica keeps and drops the same
 * entries.
 *
 * <p>Under apply rules 2 an answer is kept for {@link #RETENTION_MS} of log time (a retry is late
 * by time, not by how many other requests came in between), and always the newest {@code floor}
 * of them; {@code cap} bounds the memory however fast requests come. Under earlier rules only
 * the newest {@code floor} are kept: a busy cluster dropped an answer within seconds, and a late
 * retry acted twice.
 */
final class RequestCache {
  /** How long, in log time, an answer outlives its request: many times any client's call deadline. */
  static final long RETENTION_MS = 120_000;

  /** {@code atClockMs}: the log clock when it was cached; 0 if cached under rules before 2. */
  record Entry(String fingerprint, Result result, long atClockMs) {}

  private final int floor;
  private final int cap;
  private final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>();

  RequestCache(int floor, int cap) {
    if (floor > cap) {
      throw new IllegalArgumentException("floor " + floor + " above cap " + cap);
    }
    this.floor = floor;
    this.cap = cap;
  }

  Entry get(String requestId) {
    return entries.get(requestId);
  }

  /**
   * Caches the answer of the entry {@code e} (its log time {@code clockMs}) and drops what the
   * entry's rules let go. Insertion order is log-time order, so only the oldest are ever dropped.
   */
  void put(String requestId, String fingerprint, Result result, LogEntry e, long clockMs) {
    boolean timed = e.applyRules() >= 2;
    entries.remove(requestId);
    entries.put(requestId, new Entry(fingerprint, result, timed ? clockMs : 0));
    Iterator<Entry> oldest = entries.values().iterator();
    while (entries.size() > floor) {
      Entry o = oldest.next();
      if (timed && entries.size() <= cap && clockMs - o.atClockMs() < RETENTION_MS) {
        break;
      }
      oldest.remove();
    }
  }

  /** Puts back an entry from a snapshot, as it was (the image was trimmed when it was taken). */
  void restore(String requestId, String fingerprint, Result result, long atClockMs) {
    entries.put(requestId, new Entry(fingerprint, result, atClockMs));
  }

  /** Updates a cached result in place (a queued acquire that was later granted). */
  void update(String requestId, Result result) {
    Entry e = entries.get(requestId);
    if (e != null) {
      entries.put(requestId, new Entry(e.fingerprint(), result, e.atClockMs()));
    }
  }

  Map<String, Entry> entries() {
    return entries;
  }
}
