package io.holdfast.ops.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The bench's own safety check must catch what it is there to catch. */
class HoldHistoryTest {
  @Test
  void handOffsInOrderWithGrowingTokensPass() {
    HoldHistory h = new HoldHistory();
    h.add(new HoldHistory.Hold("a", 1, 10, 100, 200));
    h.add(new HoldHistory.Hold("a", 2, 12, 250, 300));
    h.add(new HoldHistory.Hold("b", 1, 11, 150, 400));
    h.add(new HoldHistory.Hold("a", 1, 13, 301, 302));
    assertEquals(List.of(), h.violations());
    assertEquals(4, h.size());
  }

  @Test
  void twoHoldersAtOnceAreCaught() {
    HoldHistory h = new HoldHistory();
    h.add(new HoldHistory.Hold("a", 1, 10, 100, 300));
    h.add(new HoldHistory.Hold("a", 2, 12, 250, 400));
    List<String> v = h.violations();
    assertEquals(1, v.size(), v.toString());
    assertTrue(v.get(0).contains("session 2") && v.get(0).contains("session 1"), v.get(0));
  }

  @Test
  void aTokenThatDidNotGrowIsCaught() {
    HoldHistory h = new HoldHistory();
    h.add(new HoldHistory.Hold("a", 1, 12, 100, 200));
    h.add(new HoldHistory.Hold("a", 2, 12, 300, 400));
    h.add(new HoldHistory.Hold("a", 3, 11, 500, 600));
    assertEquals(2, h.violations().size(), h.violations().toString());
  }

  @Test
  void otherLocksDoNotInterfere() {
    HoldHistory h = new HoldHistory();
    h.add(new HoldHistory.Hold("a", 1, 20, 100, 300));
    h.add(new HoldHistory.Hold("b", 2, 10, 150, 250));
    assertEquals(List.of(), h.violations());
  }
}
