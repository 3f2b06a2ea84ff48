package io.holdfast.server.state;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The results of a session's most recent requests, so that a retried request returns what the
 * first attempt did instead of acting twice. Bounded (oldest evicted first), and part of the
 * replicated state, so every replica evicts the same entries.
 */
final class RequestCache {
  record Entry(String fingerprint, Result result) {}

  private final int capacity;
  private final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>();

  RequestCache(int capacity) {
    this.capacity = capacity;
  }

  Entry get(String requestId) {
    return entries.get(requestId);
  }

  void put(String requestId, String fingerprint, Result result) {
    entries.remove(requestId);
    entries.put(requestId, new Entry(fingerprint, result));
    while (entries.size() > capacity) {
      entries.remove(entries.keySet().iterator().next());
    }
  }

  /** Updates a cached result in place (a queued acquire that was later granted). */
  void update(String requestId, Result result) {
    Entry e = entries.get(requestId);
    if (e != null) {
      entries.put(requestId, new Entry(e.fingerprint(), result));
    }
  }

  Map<String, Entry> entries() {
    return entries;
  }
}
