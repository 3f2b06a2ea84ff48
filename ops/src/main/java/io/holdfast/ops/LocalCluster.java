package io.holdfast.ops;

import io.holdfast.client.ClusterStatus;
import io.holdfast.client.HoldfastClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Server JVMs on loopback, one per node, each with its own data directory under one folder: what
 * {@code holdfast dev} runs, and what {@code holdfast bench --local} starts, kills and restarts.
 * Only the processes it started are ever signalled.
 */
public final class LocalCluster implements AutoCloseable {
  private final Path dataDir;
  private final String clusterId;
  private final int[] clientPorts;
  private final int[] peerPorts;
  private final int[] adminPorts;
  private final List<String> jvmFlags;
  private final Process[] processes;
  private volatile boolean stopping;
  private final Map<String, String> settings = new LinkedHashMap<>();

  public LocalCluster(Path dataDir, String clusterId, int[] clientPorts, int[] peerPorts, int[] adminPorts,
      List<String> jvmFlags) {
    this.dataDir = dataDir;
    this.clusterId = clusterId;
    this.clientPorts = clientPorts.clone();
    this.peerPorts = peerPorts.clone();
    this.adminPorts = adminPorts.clone();
    this.jvmFlags = List.copyOf(jvmFlags);
    this.processes = new Process[clientPorts.length];
  }

  /** A cluster of {@code nodes} on ports the kernel picks free now. */
  public static LocalCluster onFreePorts(Path dataDir, int nodes, List<String> jvmFlags) throws IOException {
    int[] ports = freePorts(3 * nodes);
    int[] client = new int[nodes];
    int[] peer = new int[nodes];
    int[] admin = new int[nodes];
    for (int i = 0; i < nodes; i++) {
      client[i] = ports[i];
      peer[i] = ports[nodes + i];
      admin[i] = ports[2 * nodes + i];
    }
    return new LocalCluster(dataDir, java.util.UUID.randomUUID().toString(), client, peer, admin, jvmFlags);
  }

  /** Ports the kernel says are free now; all held open together so that none repeats. */
  public static int[] freePorts(int n) throws IOException {
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

  public int size() {
    return processes.length;
  }

  public static String nodeId(int i) {
    return "n" + (i + 1);
  }

  public Path nodeDir(int i) {
    return dataDir.resolve(nodeId(i)).toAbsolutePath();
  }

  public Path log(int i) {
    return nodeDir(i).resolve("node.log");
  }

  public String endpoint(int i) {
    return "127.0.0.1:" + clientPorts[i];
  }

  public String adminUrl(int i) {
    return "http://127.0.0.1:" + adminPorts[i];
  }

  public List<String> endpoints() {
    List<String> e = new ArrayList<>();
    for (int i = 0; i < size(); i++) {
      e.add(endpoint(i));
    }
    return e;
  }

  /** A config setting written into every node's file from the next start on ({@code key: value}). */
  public synchronized LocalCluster set(String key, String value) {
    settings.put(key, value);
    return this;
  }

  /** Starts every node that is not running. */
  public LocalCluster start() throws IOException {
    for (int i = 0; i < size(); i++) {
      if (!isRunning(i)) {
        start(i);
      }
    }
    return this;
  }

  /** Starts node {@code i} on its data directory (a restart keeps its log and snapshots). */
  public synchronized void start(int i) throws IOException {
    Path nodeDir = nodeDir(i);
    Files.createDirectories(nodeDir);
    Path config = nodeDir.resolve("holdfast.yaml");
    Files.writeString(config, config(i));
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(jvmFlags);
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.holdfast.server.HoldfastServerMain",
        "--config", config.toString()));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log(i).toFile()));
    // The server reads HOLDFAST_* variables as config overrides: a stray HOLDFAST_DATA_DIR in
    // this shell would point every node at one directory.
    pb.environment().keySet().removeIf(k -> k.startsWith("HOLDFAST_"));
    processes[i] = pb.start();
  }

  private String config(int i) {
    StringBuilder y = new StringBuilder();
    y.append("# written by holdfast (local cluster)\n");
    y.append("node-id: ").append(nodeId(i)).append('\n');
    y.append("cluster-id: ").append(clusterId).append('\n');
    y.append("data-dir: ").append(nodeDir(i)).append('\n');
    y.append("admin-address: 127.0.0.1:").append(adminPorts[i]).append('\n');
    // A local cluster on loopback: plaintext, chosen explicitly (each node logs a warning).
    y.append("client-tls: plaintext\n");
    y.append("peer-tls: plaintext\n");
    y.append("peers:\n");
    for (int j = 0; j < size(); j++) {
      y.append("  ").append(nodeId(j)).append(": {peer: 127.0.0.1:").append(peerPorts[j])
          .append(", client: 127.0.0.1:").append(clientPorts[j]).append("}\n");
    }
    settings.forEach((k, v) -> y.append(k).append(": ").append(v).append('\n'));
    return y.toString();
  }

  public boolean isRunning(int i) {
    return processes[i] != null && processes[i].isAlive();
  }

  public Process process(int i) {
    return processes[i];
  }

  /** SIGKILL: the node gets no chance to flush or say goodbye. */
  public void kill(int i) throws InterruptedException {
    Process p = processes[i];
    if (p != null) {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
    }
  }

  /**
   * The index of the node that says it leads, polling every node until {@code timeout}; -1 if none
   * did, or if every node has exited.
   */
  public int awaitLeader(Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    try (HoldfastClient client = HoldfastClient.builder().endpoints(endpoints()).clientName("holdfast-local").build()) {
      while (System.nanoTime() < end) {
        boolean anyAlive = false;
        for (int i = 0; i < size(); i++) {
          if (!isRunning(i)) {
            continue;
          }
          anyAlive = true;
          try {
            ClusterStatus s = client.admin().memberStatus(endpoint(i), Duration.ofSeconds(1));
            if ("LEADER".equals(s.role())) {
              return i;
            }
          } catch (RuntimeException notYet) {
            // still starting, or between terms
          }
        }
        if (!anyAlive) {
          return -1;
        }
        Thread.sleep(100);
      }
    }
    return -1;
  }

  /** The last lines of node {@code i}'s log, for telling why it did not start. */
  public String tail(int i, int lines) {
    try {
      List<String> all = Files.exists(log(i)) ? Files.readAllLines(log(i), StandardCharsets.UTF_8) : List.of();
      return "---- " + nodeId(i) + " ----\n" + String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public boolean stopping() {
    return stopping;
  }

  /** SIGTERM to every node, then SIGKILL to any that has not stopped within 10 s. */
  @Override
  public void close() {
    stopping = true;
    for (Process p : processes) {
      if (p != null) {
        p.destroy();
      }
    }
    for (Process p : processes) {
      if (p == null) {
        continue;
      }
      try {
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
          p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }
}
