package io.holdfast.server.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class RateLimiterTest {
  @Test
  void anIdentityGetsItsBurstThenIsRefusedWhileOthersAreNot() {
    // One token per 1000 s: no refill can happen during the test, however slow the machine.
    RateLimiter limiter = new RateLimiter(0.001, 5);
    int allowed = 0;
    for (int i = 0; i < 20; i++) {
      allowed += limiter.tryAcquire("noisy") ? 1 : 0;
    }
    assertEquals(5, allowed);
    assertFalse(limiter.tryAcquire("noisy"));
    assertTrue(limiter.tryAcquire("quiet"), "buckets are per identity");
  }

  @Test
  void aZeroRateMeansNoLimit() {
    RateLimiter off = new RateLimiter(0, 1);
    for (int i = 0; i < 10_000; i++) {
      assertTrue(off.tryAcquire("x"));
    }
  }
}
