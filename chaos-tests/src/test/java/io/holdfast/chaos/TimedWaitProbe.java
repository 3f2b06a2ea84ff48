package io.holdfast.chaos;

/**
 * Run under libfaketime by {@link FakeTime}'s smoke check: exits 0 only if a 200 ms timed wait
 * lasts about that long, measured on the monotonic clock. Some libfaketime settings make such
 * waits return at once, which turns every timer of a JVM into a busy loop.
 */
public final class TimedWaitProbe {
  private TimedWaitProbe() {}

  public static void main(String[] args) throws InterruptedException {
    Object lock = new Object();
    long tookMs = 0;
    // Up to three tries, so that one spurious wake-up is not mistaken for the broken case.
    for (int i = 0; i < 3 && tookMs < 150; i++) {
      long start = System.nanoTime();
      synchronized (lock) {
        lock.wait(200);
      }
      tookMs = (System.nanoTime() - start) / 1_000_000;
    }
    if (tookMs < 150) {
      System.out.println("Object.wait(200) returned after " + tookMs + " ms");
      System.exit(3);
    }
    System.out.println("Object.wait(200) took " + tookMs + " ms; wall clock " + java.time.Instant.now());
  }
}
