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
  void manyIdentitiesDoNotGiveABusyOneANewBurst() {
    RateLimiter limiter = new RateLimiter(0.001, 1);
    assertTrue(limiter.tryAcquire("busy"));
    assertFalse(limiter.tryAcquire("busy"));
    for (int i = 0; i <= 100_001; i++) {
      limiter.tryAcquire("short-lived-cert-" + i);
    }
    assertFalse(limiter.tryAcquire("busy"), "the busy identity's empty bucket was forgotten");
  }

  @Test
  void bucketsThatRefilledAreForgottenOnceTooManyAreTracked() throws Exception {
    assertTrue(trackedAfterASweep(new RateLimiter(1_000_000, 1), 100_002) < 1_000); // refills in a microsecond
  }

  @Test
  void bucketsThatRefillSlowlyAreStillBoundedInNumber() throws Exception {
    assertTrue(trackedAfterASweep(new RateLimiter(0.001, 1_000), 200_002) < 1_000); // refills in 11 days
  }

  /** Buckets tracked after {@code identities} distinct ones took a token, and one more a second later. */
  private static int trackedAfterASweep(RateLimiter limiter, int identities) throws InterruptedException {
    for (int i = 0; i < identities; i++) {
      limiter.tryAcquire("id-" + i);
    }
    Thread.sleep(1_100); // past the sweep's once-a-second spacing
    limiter.tryAcquire("one-more");
    return limiter.tracked();
  }

  @Test
  void aZeroRateMeansNoLimit() {
    RateLimiter off = new RateLimiter(0, 1);
    for (int i = 0; i < 10_000; i++) {
      assertTrue(off.tryAcquire("x"));
    }
  }
}
