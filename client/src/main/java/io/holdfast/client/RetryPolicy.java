package io.holdfast.client;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * How the client retries calls that failed because no leader could be reached: exponential backoff
 * with full jitter between {@code initialBackoff} and {@code maxBackoff}, until {@code maxElapsed}
 * has passed since the first attempt. It never retries in a busy loop.
 *
 * <pre>{@code RetryPolicy.exponentialJitter(Duration.ofMillis(50), Duration.ofSeconds(2), Duration.ofSeconds(30))}</pre>
 */
public record RetryPolicy(Duration initialBackoff, Duration maxBackoff, Duration maxElapsed) {
  /** 50 ms doubling to 2 s, giving up after 30 s. */
  public static final RetryPolicy DEFAULT =
      new RetryPolicy(Duration.ofMillis(50), Duration.ofSeconds(2), Duration.ofSeconds(30));

  /**
   * @throws IllegalArgumentException if {@code initialBackoff} is under 1 ms (pauses are whole
   *     milliseconds), or {@code maxElapsed} is (each call gets at least one attempt within it)
   */
  public RetryPolicy {
    if (initialBackoff.compareTo(Duration.ofMillis(1)) < 0) {
      // Less would be pauses of 0 ms: the busy retry loop this policy promises never to run.
      throw new IllegalArgumentException("initialBackoff must be positive (at least 1 ms), got " + initialBackoff);
    }
    if (maxBackoff.compareTo(initialBackoff) < 0) {
      throw new IllegalArgumentException("maxBackoff (" + maxBackoff + ") must be at least initialBackoff ("
          + initialBackoff + ")");
    }
    if (maxElapsed.compareTo(Duration.ofMillis(1)) < 0) {
      // It is also each call's whole time: with none, every call would fail before it is sent.
      throw new IllegalArgumentException("maxElapsed must be positive (at least 1 ms): it bounds each call's whole "
          + "time, retries included; got " + maxElapsed);
    }
  }

  public static RetryPolicy exponentialJitter(Duration initial, Duration max, Duration maxElapsed) {
    return new RetryPolicy(initial, max, maxElapsed);
  }

  /** The pause before retry number {@code attempt} (1-based): random in [cap/2, cap], and at least 1 ms. */
  public long backoffMillis(int attempt) {
    long cap = initialBackoff.toMillis() << Math.min(20, Math.max(0, attempt - 1));
    cap = Math.min(cap, maxBackoff.toMillis());
    return Math.max(1, cap / 2 + ThreadLocalRandom.current().nextLong(cap / 2 + 1));
  }
}
