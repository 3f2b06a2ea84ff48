package io.holdfast.ops;

import java.time.LocalTime;
import java.util.concurrent.TimeUnit;

/**
 * Measures how long this JVM went without being scheduled: a thread that asks to sleep 50 ms
 * and records by how much it overslept. A cluster test's failure message quotes the worst, so that
 * a session expired by a frozen machine is told apart from one expired by the cluster.
 */
final class PauseWatch implements AutoCloseable {
  private static final long TICK_MS = 50;

  private final Thread thread = new Thread(this::run, "pause-watch");
  private volatile boolean running = true;
  private volatile long worstMs;
  private volatile String worstAt = "-";

  void start() {
    thread.setDaemon(true);
    thread.start();
  }

  private void run() {
    long last = System.nanoTime();
    while (running) {
      try {
        Thread.sleep(TICK_MS);
      } catch (InterruptedException e) {
        return;
      }
      long now = System.nanoTime();
      long overslept = TimeUnit.NANOSECONDS.toMillis(now - last) - TICK_MS;
      if (overslept > worstMs) {
        worstMs = overslept;
        worstAt = LocalTime.now().toString();
      }
      last = now;
    }
  }

  String describe() {
    return "the test JVM's longest stall: " + worstMs + " ms (ending " + worstAt + ")";
  }

  @Override
  public void close() {
    running = false;
    thread.interrupt();
  }
}
