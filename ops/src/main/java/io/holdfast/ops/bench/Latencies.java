package io.holdfast.ops.bench;

import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/** Latencies recorded from many threads into one HdrHistogram (1 µs to 1 h, 3 significant digits). */
final class Latencies {
  private final Recorder recorder = new Recorder(TimeUnit.HOURS.toMicros(1), 3);
  private final Histogram total = new Histogram(TimeUnit.HOURS.toMicros(1), 3);

  void record(long nanos) {
    recorder.recordValue(Math.min(TimeUnit.HOURS.toMicros(1), Math.max(1, nanos / 1_000)));
  }

  /** Everything recorded so far (the recorder's intervals folded into one histogram). */
  synchronized LatencySummary summary() {
    total.add(recorder.getIntervalHistogram());
    return LatencySummary.of(total);
  }
}
