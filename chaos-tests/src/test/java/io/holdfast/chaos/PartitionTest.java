package io.holdfast.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
}
