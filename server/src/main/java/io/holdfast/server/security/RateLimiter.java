package io.holdfast.server.security;

import java.util.concurrent.ConcurrentHashMap;

/**
 * A token bucket per identity: {@code ratePerSecond} refill, {@code burst} capacity. Node-local and
 * clock-driven, so it lives in the front door and never in the replicated state. Thread-safe.
 */
public final class RateLimiter {
  private static final int MAX_TRACKED = 100_000;
  private final double ratePerNano;
  private final double burst;
  private final ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();

  public RateLimiter(double ratePerSecond, double burst) {
    this.ratePerNano = ratePerSecond / 1e9;
    this.burst = burst;
  }

  public boolean enabled() {
    return ratePerNano > 0;
  }

  /** Takes one request's token for {@code identity}; false if its bucket is empty. */
  public boolean tryAcquire(String identity) {
    if (!enabled()) {
      return true;
    }
    if (buckets.size() > MAX_TRACKED) {
      // Many distinct identities can only come from a misconfigured token file; full buckets for all.
      buckets.clear();
    }
    return buckets.computeIfAbsent(identity, k -> new Bucket(burst)).take(System.nanoTime(), ratePerNano, burst);
  }

  private static final class Bucket {
    private double tokens;
    private long last = System.nanoTime();

    Bucket(double tokens) {
      this.tokens = tokens;
    }

    synchronized boolean take(long now, double ratePerNano, double burst) {
      tokens = Math.min(burst, tokens + (now - last) * ratePerNano);
      last = now;
      if (tokens >= 1) {
        tokens -= 1;
        return true;
      }
      return false;
    }
  }
}
