package io.holdfast.server.raft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The floor is set when nobody chose a size, and an operator's own choice wins. */
class CommonPoolFloorTest {
  private String saved;

  @BeforeEach
  void save() {
    saved = System.getProperty(CommonPoolFloor.PARALLELISM);
  }

  @AfterEach
  void restore() {
    if (saved == null) {
      System.clearProperty(CommonPoolFloor.PARALLELISM);
    } else {
      System.setProperty(CommonPoolFloor.PARALLELISM, saved);
    }
  }

  @Test
  void setsAtLeastTwoWhenUnset() {
    System.clearProperty(CommonPoolFloor.PARALLELISM);
    CommonPoolFloor.raise();
    int set = Integer.parseInt(System.getProperty(CommonPoolFloor.PARALLELISM));
    assertTrue(set >= 2 && set >= Runtime.getRuntime().availableProcessors(), "set " + set);
  }

  @Test
  void keepsTheOperatorsValue() {
    System.setProperty(CommonPoolFloor.PARALLELISM, "7");
    CommonPoolFloor.raise();
    assertEquals("7", System.getProperty(CommonPoolFloor.PARALLELISM));
  }

  @Test
  void theTestJvmRunsWithTheFloor() {
    // The build starts test JVMs with the property, as holdfast-server's main does for nodes.
    assertTrue(CommonPoolFloor.inEffect());
  }
}
