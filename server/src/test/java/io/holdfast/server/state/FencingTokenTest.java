package io.holdfast.server.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class FencingTokenTest {
  @Test
  void epochZeroTokensAreThePlainLogIndex() {
    assertEquals(42, FencingToken.value(0, 42));
    assertEquals(new FencingToken(0, 42), FencingToken.of(42));
  }

  @Test
  void anyTokenOfALaterEpochIsAboveEveryTokenOfAnEarlierOne() {
    long oldest = FencingToken.value(1, 1);
    long newestOfEpochZero = FencingToken.value(0, FencingToken.INDEX_LIMIT - 1);
    assertTrue(oldest > newestOfEpochZero);
    assertTrue(FencingToken.value(7, 1) > FencingToken.value(6, FencingToken.INDEX_LIMIT - 1));
    assertTrue(FencingToken.value(FencingToken.MAX_EPOCH, FencingToken.INDEX_LIMIT - 1) > 0, "never wraps negative");
  }

  @Test
  void splitsBackIntoEpochAndIndex() {
    long t = FencingToken.value(3, 123_456_789L);
    assertEquals(new FencingToken(3, 123_456_789L), FencingToken.of(t));
    assertEquals(t, FencingToken.of(t).value());
  }

  @Test
  void refusesValuesOutsideTheLayout() {
    assertThrows(IllegalArgumentException.class, () -> new FencingToken(-1, 1));
    assertThrows(IllegalArgumentException.class, () -> new FencingToken(0, FencingToken.INDEX_LIMIT));
    assertThrows(IllegalArgumentException.class, () -> new FencingToken(FencingToken.MAX_EPOCH + 1, 1));
  }
}
