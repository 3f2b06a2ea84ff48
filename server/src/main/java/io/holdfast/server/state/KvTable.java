package io.holdfast.server.state;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** The fenced key-value store's keys, in name order. Part of the replicated state. */
final class KvTable {
  private final TreeMap<String, KvEntry> byKey = new TreeMap<>();
  /** The sum of {@link #size} over all entries: what max-kv-bytes limits. */
  private long bytes;

  /** What an entry counts against max-kv-bytes: its key's UTF-8 bytes and its value's. */
  static long size(String key, int valueLength) {
    return key.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + (long) valueLength;
  }

  private static long size(KvEntry e) {
    return e == null ? 0 : size(e.key(), e.size());
  }

  KvEntry get(String key) {
    return byKey.get(key);
  }

  void put(KvEntry e) {
    bytes += size(e) - size(byKey.put(e.key(), e));
  }

  void remove(String key) {
    bytes -= size(byKey.remove(key));
  }

  long bytes() {
    return bytes;
  }

  /** Keys starting with {@code prefix}, in name order, at most {@code limit}. */
  List<KvEntry> withPrefix(String prefix, int limit) {
    return withPrefix(prefix, "", limit);
  }

  /** Keys starting with {@code prefix} and after {@code startAfter} (none: ""), in name order. */
  List<KvEntry> withPrefix(String prefix, String startAfter, int limit) {
    List<KvEntry> out = new ArrayList<>();
    var from = startAfter.compareTo(prefix) >= 0 ? byKey.tailMap(startAfter, false) : byKey.tailMap(prefix, true);
    for (Map.Entry<String, KvEntry> en : from.entrySet()) {
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
    bytes = 0;
  }
}
