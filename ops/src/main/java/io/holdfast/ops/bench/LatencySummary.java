package io.holdfast.ops.bench;

import org.HdrHistogram.Histogram;

/** A latency distribution in milliseconds. */
record LatencySummary(long count, double p50Ms, double p90Ms, double p99Ms, double maxMs) {
  static LatencySummary of(Histogram h) {
    if (h.getTotalCount() == 0) {
      return new LatencySummary(0, 0, 0, 0, 0);
    }
    return new LatencySummary(h.getTotalCount(), ms(h.getValueAtPercentile(50)), ms(h.getValueAtPercentile(90)),
        ms(h.getValueAtPercentile(99)), ms(h.getMaxValue()));
  }

  private static double ms(long micros) {
    return Math.round(micros / 10.0) / 100.0;
  }

  @Override
  public String toString() {
    return "p50 " + p50Ms + " ms, p90 " + p90Ms + " ms, p99 " + p99Ms + " ms, max " + maxMs + " ms (" + count + ")";
  }
}
