package io.holdfast.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;
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
    assertEquals(Set.of(0), p.nodes());
    assertTrue(p.dropTo().isEmpty());
  }

  @Test
  void lossDropsOnlyOnTheWayOutOfEveryNode() {
    Partition p = Partition.lossy(25, 3);
    assertEquals("25% loss between all nodes", p.description());
    assertEquals(Set.of(0, 1, 2), p.nodes());
    assertTrue(p.dropFrom().isEmpty());
    assertEquals(Set.of(0, 2), p.dropTo().get(1));
    assertTrue(p.connected(0, 1)); // some packets get through
    assertFalse(Partition.lossy(100, 3).connected(0, 1));
    assertThrows(IllegalArgumentException.class, () -> Partition.lossy(0, 3));
    assertThrows(IllegalArgumentException.class, () -> Partition.lossy(101, 3));
  }

  @Test
  void theTargetIsTheLeaderOnEvenChoicesAndEachFollowerOnOddOnes() {
    List<Integer> three = List.of(0, 1, 2);
    assertEquals(2, ClusterFaults.leaderOrFollower(0, 2, three));
    assertEquals(2, ClusterFaults.leaderOrFollower(4, 2, three));
    assertEquals(0, ClusterFaults.leaderOrFollower(1, 2, three));
    assertEquals(1, ClusterFaults.leaderOrFollower(3, 2, three));
    assertEquals(0, ClusterFaults.leaderOrFollower(5, 2, three));
    Set<Integer> seen = new TreeSet<>();
    for (int choice = 1; choice < 10; choice += 2) {
      int node = ClusterFaults.leaderOrFollower(choice, 1, List.of(0, 1, 2, 3, 4));
      assertTrue(node != 1 && node >= 0 && node < 5);
      seen.add(node);
    }
    assertEquals(Set.of(0, 2, 3, 4), seen);
    // after a swap the members are not 0..n-1
    assertEquals(5, ClusterFaults.leaderOrFollower(3, 1, List.of(1, 3, 5)));
  }

  @Test
  void partitionsAfterASwapNameTheMembersSlots() {
    List<Integer> members = List.of(0, 2, 3); // n2 retired, n4 added
    assertEquals("n1 | n3 n4", Partition.isolate(0, members).description());
    Partition split = Partition.split(1, members);
    assertEquals("n3 | n1 n4", split.description());
    assertFalse(split.connected(2, 0));
    assertTrue(split.connected(0, 3));
    assertEquals("n1 | n3 (bridge n4)", Partition.bridge(2, members).description());
    assertEquals("n4 deaf to n1 n3", Partition.deaf(3, members).description());
    assertEquals(Set.of(0, 2, 3), Partition.lossy(10, members).nodes());
    assertEquals(Set.of(0, 2), Partition.lossy(10, members).dropTo().get(3));
  }
}
