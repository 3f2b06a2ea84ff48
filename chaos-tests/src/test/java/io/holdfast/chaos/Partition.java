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
 * Which node may not talk to which (node indexes; symmetric, both ends drop), with a readable
 * description such as {@code n1 | n2 n3}. Clients are never cut off: only node-to-node links.
 */
public record Partition(String description, Map<Integer, Set<Integer>> cuts) {
  public Partition {
    cuts = Map.copyOf(cuts);
  }

  /** {@code node} cannot reach any other node. */
  public static Partition isolate(int node, int nodes) {
    List<Integer> rest = new ArrayList<>();
    for (int i = 0; i < nodes; i++) {
      if (i != node) {
        rest.add(i);
      }
    }
    return between(List.of(node), rest, describe(List.of(node)) + " | " + describe(rest));
  }

  /** A minority of {@code nodes / 2} nodes, counted round from {@code choice}, against the rest. */
  public static Partition split(int choice, int nodes) {
    List<Integer> minority = new ArrayList<>();
    List<Integer> majority = new ArrayList<>();
    for (int k = 0; k < nodes; k++) {
      (k < nodes / 2 ? minority : majority).add((choice + k) % nodes);
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
    int bridge = choice % nodes;
    List<Integer> a = new ArrayList<>();
    List<Integer> b = new ArrayList<>();
    for (int k = 1; k < nodes; k++) {
      (k <= (nodes - 1) / 2 ? a : b).add((bridge + k) % nodes);
    }
    a.sort(null);
    b.sort(null);
    return between(a, b, describe(a) + " | " + describe(b) + " (bridge " + ProcessCluster.nodeId(bridge) + ")");
  }

  private static Partition between(List<Integer> a, List<Integer> b, String description) {
    Map<Integer, Set<Integer>> cuts = new TreeMap<>();
    for (int x : a) {
      cuts.put(x, new TreeSet<>(b));
    }
    for (int y : b) {
      cuts.put(y, new TreeSet<>(a));
    }
    return new Partition(description, cuts);
  }

  private static String describe(List<Integer> nodes) {
    return nodes.stream().map(ProcessCluster::nodeId).collect(Collectors.joining(" "));
  }

  /** Whether nodes {@code x} and {@code y} can talk. */
  public boolean connected(int x, int y) {
    return !cuts.getOrDefault(x, Set.of()).contains(y);
  }
}
