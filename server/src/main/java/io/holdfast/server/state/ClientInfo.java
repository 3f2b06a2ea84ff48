package io.holdfast.server.state;

import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/** Who a session belongs to, as the client declared it. Labels are kept sorted for determinism. */
public record ClientInfo(String name, String host, long pid, SortedMap<String, String> labels) {
  public static final ClientInfo UNKNOWN = new ClientInfo("", "", 0, new TreeMap<>());

  public ClientInfo {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(host, "host");
    labels = Collections.unmodifiableSortedMap(new TreeMap<>(labels == null ? Map.of() : labels));
  }
}
