package io.holdfast.chaos;

import io.holdfast.server.testing.ProcessCluster;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Which node drops which node's packets (node indexes), with a readable description such as
 * {@code n1 | n2 n3}. {@code dropFrom}: what a node drops on the way in, by sender; {@code dropTo}:
 * what it drops on the way out, by receiver; {@code lossPercent}: 100 drops every such packet,
 * less drops that share of them at random. Clients are never cut off: only node-to-node links.
 */
public record Partition(String description, Map<Integer, Set<Integer>> dropFrom, Map<Integer, Set<Integer>> dropTo,
    int lossPercent) {
  public Partition {
    dropFrom = copy(dropFrom);
    dropTo = copy(dropTo);
    if (lossPercent < 1 || lossPercent > 100) {
      throw new IllegalArgumentException("lossPercent must be 1..100, not " + lossPercent);
    }
  }

  /** {@code node} cannot reach any other node. */
  public static Partition isolate(int node, int nodes) {
    return isolate(node, range(nodes));
  }

  /** {@code node} cannot reach any other of {@code members}. */
  public static Partition isolate(int node, List<Integer> members) {
    List<Integer> rest = others(node, members);
    return between(List.of(node), rest, describe(List.of(node)) + " | " + describe(rest));
  }

  /** A minority of {@code nodes / 2} nodes, counted round from {@code choice}, against the rest. */
  public static Partition split(int choice, int nodes) {
    return split(choice, range(nodes));
  }

  /** A minority of half the members (rounded down), counted round from position {@code choice}. */
  public static Partition split(int choice, List<Integer> members) {
    int n = members.size();
    List<Integer> minority = new ArrayList<>();
    List<Integer> majority = new ArrayList<>();
    for (int k = 0; k < n; k++) {
      (k < n / 2 ? minority : majority).add(members.get((choice + k) % n));
    }
    minority.sort(null);
    majority.sort(null);
    return between(minority, majority, describe(minority) + " | " + describe(majority));
  }

  /**
   * Two halves that cannot reach each other and one node (picked by {@code choice}) that reaches
   * both: with 3 nodes, no pair but the bridge's can talk.
   */
  public static Partition bridge(int choice, int nodes) {
    return bridge(choice, range(nodes));
  }

  /** As {@link #bridge(int, int)}, among {@code members}; {@code choice} is a position. */
  public static Partition bridge(int choice, List<Integer> members) {
    int n = members.size();
    int at = choice % n;
    List<Integer> a = new ArrayList<>();
    List<Integer> b = new ArrayList<>();
    for (int k = 1; k < n; k++) {
      (k <= (n - 1) / 2 ? a : b).add(members.get((at + k) % n));
    }
    a.sort(null);
    b.sort(null);
    return between(a, b, describe(a) + " | " + describe(b) + " (bridge " + ProcessCluster.nodeId(members.get(at))
        + ")");
  }

  /**
   * {@code node} drops everything the other nodes send it and sends as usual (a one-way cut). Over
   * TCP its sends still arrive until its unacknowledged data fills the congestion window, and no
   * new connection opens either way, so peers see it talk for a while, then fall silent.
   */
  public static Partition deaf(int node, int nodes) {
    return deaf(node, range(nodes));
  }

  /** As {@link #deaf(int, int)}, among {@code members}. */
  public static Partition deaf(int node, List<Integer> members) {
    List<Integer> rest = others(node, members);
    return new Partition(describe(List.of(node)) + " deaf to " + describe(rest), Map.of(node, new TreeSet<>(rest)),
        Map.of(), 100);
  }

  /** Every node drops {@code percent} % of what it sends to the other nodes, at random. */
  public static Partition lossy(int percent, int nodes) {
    return lossy(percent, range(nodes));
  }

  /** As {@link #lossy(int, int)}, among {@code members}. */
  public static Partition lossy(int percent, List<Integer> members) {
    Map<Integer, Set<Integer>> out = new TreeMap<>();
    for (int k : members) {
      out.put(k, new TreeSet<>(others(k, members)));
    }
    return new Partition(percent + "% loss between all nodes", Map.of(), out, percent);
  }

  private static Partition between(List<Integer> a, List<Integer> b, String description) {
    Map<Integer, Set<Integer>> cuts = new TreeMap<>();
    for (int x : a) {
      cuts.put(x, new TreeSet<>(b));
    }
    for (int y : b) {
      cuts.put(y, new TreeSet<>(a));
    }
    return new Partition(description, cuts, cuts, 100);
  }

  private static List<Integer> others(int node, List<Integer> members) {
    return members.stream().filter(m -> m != node).sorted().toList();
  }

  private static List<Integer> range(int nodes) {
    return java.util.stream.IntStream.range(0, nodes).boxed().toList();
  }

  private static Map<Integer, Set<Integer>> copy(Map<Integer, Set<Integer>> m) {
    Map<Integer, Set<Integer>> out = new TreeMap<>();
    m.forEach((k, v) -> {
      if (!v.isEmpty()) {
        out.put(k, Set.copyOf(v));
      }
    });
    return java.util.Collections.unmodifiableMap(out);
  }

  private static String describe(List<Integer> nodes) {
    return nodes.stream().map(ProcessCluster::nodeId).collect(Collectors.joining(" "));
  }

  /** The nodes that carry a rule, in order. */
  public Set<Integer> nodes() {
    Set<Integer> all = new TreeSet<>(dropFrom.keySet());
    all.addAll(dropTo.keySet());
    return all;
  }

  /** Whether any packet {@code x} sends reaches {@code y}. */
  public boolean reaches(int x, int y) {
    boolean dropped = dropTo.getOrDefault(x, Set.of()).contains(y) || dropFrom.getOrDefault(y, Set.of()).contains(x);
    return !dropped || lossPercent < 100;
  }

  /** Whether nodes {@code x} and {@code y} can talk, both ways. */
  public boolean connected(int x, int y) {
    return reaches(x, y) && reaches(y, x);
  }
}
