package io.holdfast.client.testing;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.LockLease;
import io.holdfast.client.Session;
import java.time.Duration;

/**
 * A client in its own JVM for tests that kill a lock holder: takes the lock, prints
 * {@code HOLDING <session> <token>}, then keeps its session alive until killed.
 * Args: endpoints lockName ttlMs.
 */
public final class LockHolderProcess {
  public static void main(String[] args) throws Exception {
    HoldfastClient client = HoldfastClient.builder().endpoints(args[0]).clientName("holder-process").build();
    Session session = client.newSession(Duration.ofMillis(Long.parseLong(args[2])));
    LockLease lease = session.lock(args[1]);
    System.out.println("HOLDING " + session.id() + " " + lease.token());
    System.out.flush();
    Thread.sleep(Long.MAX_VALUE);
  }

  /** Starts a holder process with the current test classpath. */
  public static Process start(String endpoints, String lockName, long ttlMs) throws java.io.IOException {
    String javaBin = java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString();
    return new ProcessBuilder(javaBin, "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
        System.getProperty("java.class.path"), LockHolderProcess.class.getName(), endpoints, lockName,
        Long.toString(ttlMs)).redirectErrorStream(true).start();
  }

  /** Reads the process's output until it says it holds the lock; returns {session, token}. */
  public static long[] awaitHolding(Process p, Duration timeout) throws Exception {
    var reader = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()));
    var result = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
      try {
        StringBuilder seen = new StringBuilder();
        for (String line; (line = reader.readLine()) != null; ) {
          if (line.startsWith("HOLDING ")) {
            String[] parts = line.split(" ");
            // Keep draining so the child never blocks on a full pipe.
            Thread drain = new Thread(() -> {
              try {
                while (reader.readLine() != null) {
                  // discard
                }
              } catch (java.io.IOException ignored) {
                // process gone
              }
            });
            drain.setDaemon(true);
            drain.start();
            return new long[] {Long.parseLong(parts[1]), Long.parseLong(parts[2])};
          }
          seen.append(line).append('\n');
        }
        throw new IllegalStateException("holder process ended without holding the lock:\n" + seen);
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
    return result.get(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
  }
}
