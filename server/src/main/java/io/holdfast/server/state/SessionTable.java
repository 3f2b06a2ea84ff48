package io.holdfast.server.state;

import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.TreeMap;

/**
 * The live sessions, by id, with the exclusive keys they hold and the request ids of recent opens
 * (so that a retried open returns the same session). Part of the replicated state.
 */
final class SessionTable {
  static final int RECENT_OPENS = 10_000;

  private final TreeMap<Long, SessionRecord> byId = new TreeMap<>();
  private final TreeMap<String, Long> byExclusiveKey = new TreeMap<>();
  private final LinkedHashMap<String, StateImage.OpenImage> recentOpens = new LinkedHashMap<>();
  // Derived (not in snapshots): live sessions per authenticated principal, for the per-identity limit.
  private final TreeMap<String, Integer> perPrincipal = new TreeMap<>();

  SessionRecord get(long id) {
    return byId.get(id);
  }

  boolean contains(long id) {
    return byId.containsKey(id);
  }

  /** The live session holding {@code key}, or null. */
  SessionRecord holderOf(String key) {
    Long id = byExclusiveKey.get(key);
    return id == null ? null : byId.get(id);
  }

  void add(SessionRecord s) {
    byId.put(s.id(), s);
    perPrincipal.merge(s.client().principal(), 1, Integer::sum);
    if (!s.exclusiveKey().isEmpty()) {
      byExclusiveKey.put(s.exclusiveKey(), s.id());
    }
  }

  void remove(SessionRecord s) {
    if (byId.remove(s.id()) != null) {
      perPrincipal.computeIfPresent(s.client().principal(), (k, n) -> n == 1 ? null : n - 1);
    }
    if (!s.exclusiveKey().isEmpty()) {
      byExclusiveKey.remove(s.exclusiveKey());
    }
  }

  StateImage.OpenImage recentOpen(String requestId) {
    return recentOpens.get(requestId);
  }

  void rememberOpen(StateImage.OpenImage open) {
    recentOpens.put(open.requestId(), open);
    while (recentOpens.size() > RECENT_OPENS) {
      recentOpens.remove(recentOpens.keySet().iterator().next());
    }
  }

  Collection<SessionRecord> all() {
    return Collections.unmodifiableCollection(byId.values());
  }

  Collection<StateImage.OpenImage> recentOpens() {
    return recentOpens.values();
  }

  /** How many live sessions authenticated as {@code principal}. */
  int countOf(String principal) {
    return perPrincipal.getOrDefault(principal, 0);
  }

  int size() {
    return byId.size();
  }

  void clear() {
    byId.clear();
    perPrincipal.clear();
    byExclusiveKey.clear();
    recentOpens.clear();
  }
}
