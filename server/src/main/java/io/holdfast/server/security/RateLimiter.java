package io.holdfast.server.security;

import java.util.concurrent.ConcurrentHashMap;

/**
 * A token bucket per identity: {@code ratePerSecond} refill, {@code burst} capacity. Node-local and
 * clock-driven, so it lives in the front door and never in the replicated state. Thread-safe.
 */
public final class RateLimiter {
  private static final int MAX_TRACKED = 100_000;
  private static final long SWEEP_EVERY_NANOS = 1_000_000_000L;
  private volatile long lastSweep = System.nanoTime() - SWEEP_EVERY_NANOS;
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
    long now = System.nanoTime();
    if (buckets.size() > MAX_TRACKED && now - lastSweep > SWEEP_EVERY_NANOS) {
      // Many identities (short-lived certificates): forget the buckets that have refilled, which
      // carry nothing a new bucket would not. Clearing all would give every busy identity a new burst.
      lastSweep = now;
      buckets.values().removeIf(b -> b.full(now, ratePerNano, burst));
      if (buckets.size() > 2 * MAX_TRACKED) {
        // Slow refills and ever new identities: bounded before all else, at the cost of fresh bursts.
        buckets.clear();
      }
    }
    return buckets.computeIfAbsent(identity, k -> new Bucket(burst)).take(now, ratePerNano, burst);
  }

  /** Identities tracked now (for tests). */
  int tracked() {
    return buckets.size();
  }

  private static final class Bucket {
    private double tokens;
    private long last = System.nanoTime();

    Bucket(double tokens) {
      this.tokens = tokens;
    }

    synchronized boolean full(long now, double ratePerNano, double burst) {
      return tokens + Math.max(0, now - last) * ratePerNano >= burst;
    }

    synchronized boolean take(long now, double ratePerNano, double burst) {
      if (now - last > 0) {
        // (A caller's clock reading can predate the bucket's own first one.)
        tokens = Math.min(burst, tokens + (now - last) * ratePerNano);
        last = now;
      }
      if (tokens >= 1) {
        tokens -= 1;
        return true;
      }
      return false;
    }
  }
}
