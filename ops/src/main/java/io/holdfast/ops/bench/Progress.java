package io.holdfast.ops.bench;

import java.io.PrintWriter;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/** A progress line on stderr every few seconds of a long run, so that a stuck run is visible. */
final class Progress implements AutoCloseable {
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "bench-progress");
    t.setDaemon(true);
    return t;
  });

  Progress(PrintWriter err, long everySeconds, Supplier<String> line) {
    long start = System.nanoTime();
    timer.scheduleAtFixedRate(() -> {
      err.println("[" + (System.nanoTime() - start) / 1_000_000_000L + " s] " + line.get());
      err.flush();
    }, everySeconds, everySeconds, TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
