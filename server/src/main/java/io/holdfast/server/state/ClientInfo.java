package io.holdfast.server.state;

import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Who a session belongs to. {@code name}, {@code host}, {@code pid} and {@code labels} are what the
 * client declared (shown, never trusted); {@code principal} is the identity the front door
 * authenticated (certificate or token; "anonymous" with auth off; "" in entries older than auth).
 * Labels are kept sorted for determinism.
 */
public record ClientInfo(String name, String host, long pid, SortedMap<String, String> labels, String principal) {
  public static final ClientInfo UNKNOWN = new ClientInfo("", "", 0, new TreeMap<>());

  public ClientInfo {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(host, "host");
    labels = Collections.unmodifiableSortedMap(new TreeMap<>(labels == null ? Map.of() : labels));
    principal = principal == null ? "" : principal;
  }

  public ClientInfo(String name, String host, long pid, SortedMap<String, String> labels) {
    this(name, host, pid, labels, "");
  }

  /** The same declared fields, authenticated as {@code principal}. */
  public ClientInfo withPrincipal(String principal) {
    return new ClientInfo(name, host, pid, labels, principal);
  }
}
