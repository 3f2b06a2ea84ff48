package io.holdfast.ops.bench;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A 3-member cluster of a peer system (etcd or ZooKeeper) on loopback, started for one bench run
 * under a temporary directory. Only the processes it started are signalled, and the directory goes
 * when it closes; a shutdown hook does both if the bench is interrupted.
 */
abstract class PeerCluster implements AutoCloseable {
  final Path dir;
  final int members;
  private final List<Process> processes = new ArrayList<>();
  private final Thread cleanup = new Thread(this::stop, "peer-cluster-cleanup");
  private boolean closed;

  PeerCluster(int members) throws IOException {
    this.members = members;
    this.dir = Files.createTempDirectory("holdfast-peer-");
    Runtime.getRuntime().addShutdownHook(cleanup);
  }

  /** The system and its version, as its own binary reports it. */
  abstract String system();

  /** Starts every member and returns once the cluster serves clients, or throws saying why not. */
  abstract void start(PrintWriter err) throws Exception;

  /** Lock clients for the bench; {@code connections} is how many client instances they share, where the client has that notion. */
  abstract PeerLockers lockers(int clients, int connections, Duration ttl) throws Exception;

  /** What {@link PeerOrphanHolder} needs to reach this cluster. */
  abstract String connectString();

  /** Starts one member with its output in {@code log}; remembered so that close() ends it. */
  Process launch(List<String> command, Path log) throws IOException {
    Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
        .redirectOutput(log.toFile()).start();
    synchronized (this) {
      processes.add(p);
    }
    return p;
  }

  /** The last lines of a member's log, for the error when it does not come up. */
  static String tail(Path log, int lines) {
    try {
      List<String> all = Files.readAllLines(log, StandardCharsets.UTF_8);
      return log.getFileName() + ":\n  " + String.join("\n  ", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return log.getFileName() + ": (unreadable: " + e.getMessage() + ")";
    }
  }

  /** Ports the kernel says are free now; all held open together so that none repeats. */
  static int[] freePorts(int n) throws IOException {
    List<ServerSocket> held = new ArrayList<>();
    try {
      int[] out = new int[n];
      for (int i = 0; i < n; i++) {
        ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        held.add(s);
        out[i] = s.getLocalPort();
      }
      return out;
    } finally {
      for (ServerSocket s : held) {
        s.close();
      }
    }
  }

  private synchronized void stop() {
    if (closed) {
      return;
    }
    closed = true;
    for (Process p : processes) {
      p.destroyForcibly();
    }
    for (Process p : processes) {
      try {
        p.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // a temporary directory; the OS cleans it eventually
    }
  }

  @Override
  public void close() {
    stop();
    try {
      Runtime.getRuntime().removeShutdownHook(cleanup);
    } catch (IllegalStateException ignored) {
      // already shutting down: the hook is running or has run
    }
  }
}
