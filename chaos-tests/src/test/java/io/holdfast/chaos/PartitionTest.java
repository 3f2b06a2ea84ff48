package io.holdfast.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class PartitionTest {
  @Test
  void isolatingCutsOneNodeFromAllOthers() {
    Partition p = Partition.isolate(1, 3);
    assertEquals("n2 | n1 n3", p.description());
    assertFalse(p.connected(1, 0));
    assertFalse(p.connected(2, 1));
    assertTrue(p.connected(0, 2));
  }

  @Test
  void aSplitLeavesAMajority() {
    Partition p = Partition.split(3, 5);
    assertEquals("n4 n5 | n1 n2 n3", p.description());
    assertFalse(p.connected(3, 0));
    assertTrue(p.connected(3, 4));
    assertTrue(p.connected(0, 2));
  }

  @Test
  void aBridgeSeesBothHalves() {
    Partition three = Partition.bridge(0, 3);
    assertEquals("n2 | n3 (bridge n1)", three.description());
    assertTrue(three.connected(0, 1) && three.connected(0, 2));
    assertFalse(three.connected(1, 2));
    Partition five = Partition.bridge(2, 5);
    assertEquals("n4 n5 | n1 n2 (bridge n3)", five.description());
    for (int i = 0; i < 5; i++) {
      assertTrue(five.connected(2, i));
    }
    assertFalse(five.connected(3, 0));
    assertTrue(five.connected(3, 4));
  }

  @Test
  void aDeafNodeStillSends() {
    Partition p = Partition.deaf(0, 3);
    assertEquals("n1 deaf to n2 n3", p.description());
    assertTrue(p.reaches(0, 1) && p.reaches(0, 2));
    assertFalse(p.reaches(1, 0) || p.reaches(2, 0));
    assertTrue(p.connected(1, 2));
    assertEquals(java.util.Set.of(0), p.nodes());
    assertTrue(p.dropTo().isEmpty());
  }

  @Test
  void lossDropsOnlyOnTheWayOutOfEveryNode() {
    Partition p = Partition.lossy(25, 3);
    assertEquals("25% loss between all nodes", p.description());
    assertEquals(java.util.Set.of(0, 1, 2), p.nodes());
    assertTrue(p.dropFrom().isEmpty());
    assertEquals(java.util.Set.of(0, 2), p.dropTo().get(1));
    assertTrue(p.connected(0, 1)); // some packets get through
    assertFalse(Partition.lossy(100, 3).connected(0, 1));
    assertThrows(IllegalArgumentException.class, () -> Partition.lossy(0, 3));
    assertThrows(IllegalArgumentException.class, () -> Partition.lossy(101, 3));
  }

  @Test
  void theDeafNodeIsTheLeaderOnEvenChoicesAndEachFollowerOnOddOnes() {
    assertEquals(2, ClusterFaults.deafNode(0, 2, 3));
    assertEquals(2, ClusterFaults.deafNode(4, 2, 3));
    assertEquals(0, ClusterFaults.deafNode(1, 2, 3));
    assertEquals(1, ClusterFaults.deafNode(3, 2, 3));
    assertEquals(0, ClusterFaults.deafNode(5, 2, 3));
    java.util.Set<Integer> seen = new java.util.TreeSet<>();
    for (int choice = 1; choice < 10; choice += 2) {
      int node = ClusterFaults.deafNode(choice, 1, 5);
      assertTrue(node != 1 && node >= 0 && node < 5);
      seen.add(node);
    }
    assertEquals(java.util.Set.of(0, 2, 3, 4), seen);
  }
}
