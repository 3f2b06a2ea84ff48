package io.holdfast.server.state;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** The fenced key-value store's keys, in name order. Part of the replicated state. */
final class KvTable {
  private final TreeMap<String, KvEntry> byKey = new TreeMap<>();

  KvEntry get(String key) {
    return byKey.get(key);
  }

  void put(KvEntry e) {
    byKey.put(e.key(), e);
  }

  void remove(String key) {
    byKey.remove(key);
  }

  /** Keys starting with {@code prefix}, in name order, at most {@code limit}. */
  List<KvEntry> withPrefix(String prefix, int limit) {
    List<KvEntry> out = new ArrayList<>();
    for (Map.Entry<String, KvEntry> en : byKey.tailMap(prefix, true).entrySet()) {
      if (!en.getKey().startsWith(prefix) || out.size() >= limit) {
        break;
      }
      out.add(en.getValue());
    }
    return out;
  }

  Collection<KvEntry> all() {
    return byKey.values();
  }

  int size() {
    return byKey.size();
  }

  void clear() {
    byKey.clear();
  }
}
