package io.holdfast.server.testing;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.holdfast.proto.v1.AdminServiceGrpc;
import io.holdfast.proto.v1.ClusterStatusRequest;
import io.holdfast.proto.v1.ClusterStatusResponse;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A real Holdfast cluster for tests: one JVM process per node, on loopback ports picked free at
 * run time, each with its own data dir. {@link #kill} is SIGKILL (kill -9), {@link #pause} is
 * SIGSTOP; only processes this cluster started are ever signalled. Opt-in hooks ({@link #host},
 * {@link #launchPrefix}, {@link #environment}) run a node elsewhere, e.g. in a network namespace.
 */
public final class ProcessCluster implements AutoCloseable {
  private final Path dir;
  private final int size;
  /** Initial members plus spare nodes (ports reserved) that can join later. */
  private final int capacity;
  private final Map<String, String> settings;
  private final int[] clientPorts;
  private final int[] peerPorts;
  private final int[] adminPorts;
  private final Process[] processes;
  private final ManagedChannel[] channels;
  private final String clusterId = UUID.randomUUID().toString();
  private final Map<Integer, Map<String, String>> nodeSettings = new java.util.HashMap<>();
  private String mainClass = "io.holdfast.server.HoldfastServerMain";
  // Opt-in per-node launch hooks (e.g. a network namespace, libfaketime); unset: loopback, plain java.
  private final Map<Integer, String> hosts = new java.util.HashMap<>();
  private final Map<Integer, String> advertised = new java.util.HashMap<>();
  private final Map<Integer, List<String>> launchPrefixes = new java.util.HashMap<>();
  private final Map<Integer, Map<String, String>> environments = new java.util.HashMap<>();
  private java.util.function.Function<String, ManagedChannel> channels0 =
      target -> NettyChannelBuilder.forTarget(target).usePlaintext().build();

  /** Test-friendly defaults; {@code overrides} are config keys (see ServerConfigLoader). */
  public ProcessCluster(int size, Path dir, Map<String, String> overrides) {
    this(size, 0, dir, overrides);
  }

  /**
   * {@code size} initial members and {@code spares} more nodes that are not members: start one
   * with {@link #startJoining} (its config says {@code join: true}), then add it with the
   * membership API. Indexes {@code size .. size + spares - 1} are the spares.
   */
  public ProcessCluster(int size, int spares, Path dir, Map<String, String> overrides) {
    this.size = size;
    this.capacity = size + spares;
    this.dir = dir;
    this.settings = new LinkedHashMap<>();
    settings.put("election-timeout-min-ms", "500");
    settings.put("election-timeout-max-ms", "1000");
    settings.put("session-ttl-min-ms", "2000");
    settings.put("checkpoint-interval-ms", "500");
    settings.put("failover-grace-ms", "500");
    // Test clusters run on loopback: plaintext, chosen explicitly (overrides may switch on TLS).
    settings.put("client-tls", "plaintext");
    settings.put("peer-tls", "plaintext");
    settings.putAll(overrides);
    this.clientPorts = new int[capacity];
    this.peerPorts = new int[capacity];
    this.adminPorts = new int[capacity];
    this.processes = new Process[capacity];
    this.channels = new ManagedChannel[capacity];
    int[] ports = freePorts(3 * capacity);
    for (int i = 0; i < capacity; i++) {
      clientPorts[i] = ports[i];
      peerPorts[i] = ports[capacity + i];
      adminPorts[i] = ports[2 * capacity + i];
    }
  }

  public ProcessCluster(int size, Path dir) {
    this(size, dir, Map.of());
  }

  /** Settings for node {@code i} only (e.g. its own certificate), over the cluster's; before start. */
  public ProcessCluster nodeSettings(int i, Map<String, String> overrides) {
    nodeSettings.computeIfAbsent(i, k -> new LinkedHashMap<>()).putAll(overrides);
    return this;
  }

  /** The nodes' main class (on the test class path), e.g. a deliberately broken build; before start. */
  public ProcessCluster mainClass(String className) {
    this.mainClass = className;
    return this;
  }

  /** How {@link #channel} reaches a node (e.g. with TLS and credentials); plaintext by default. */
  public ProcessCluster channelFactory(java.util.function.Function<String, ManagedChannel> factory) {
    this.channels0 = factory;
    return this;
  }

  /**
   * The address node {@code i} binds and is reached at (its client, peer and admin ports);
   * loopback by default. Set before the node first starts.
   */
  public ProcessCluster host(int i, String address) {
    hosts.put(i, address);
    return this;
  }

  /**
   * The client address the cluster tells clients for node {@code i} (its {@code client} entry in
   * {@code peers}, hence leader hints and member lists), e.g. a proxy in front of it; the node
   * still listens on {@link #endpoint}. Set before the cluster first starts.
   */
  public ProcessCluster advertise(int i, String clientAddress) {
    advertised.put(i, clientAddress);
    return this;
  }

  /** Words put before node {@code i}'s java command, e.g. {@code ip netns exec NAME}. */
  public ProcessCluster launchPrefix(int i, List<String> prefix) {
    launchPrefixes.put(i, List.copyOf(prefix));
    return this;
  }

  /** Extra environment for node {@code i}'s next starts (replaces what was set before). */
  public ProcessCluster environment(int i, Map<String, String> env) {
    environments.put(i, Map.copyOf(env));
    return this;
  }

  private String host(int i) {
    return hosts.getOrDefault(i, "127.0.0.1");
  }

  private static int[] freePorts(int n) {
    List<ServerSocket> sockets = new ArrayList<>();
    try {
      int[] ports = new int[n];
      for (int i = 0; i < n; i++) {
        ServerSocket s = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
        sockets.add(s);
        ports[i] = s.getLocalPort();
      }
      return ports;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      for (ServerSocket s : sockets) {
        try {
          s.close();
        } catch (IOException ignored) {
          // best effort
        }
      }
    }
  }

  public static String nodeId(int i) {
    return "n" + (i + 1);
  }

  public int size() {
    return size;
  }

  /** Initial members plus spares. */
  public int capacity() {
    return capacity;
  }

  /** The node's Raft (peer) address. */
  public String peerAddress(int i) {
    return host(i) + ":" + peerPorts[i];
  }

  public String endpoint(int i) {
    return host(i) + ":" + clientPorts[i];
  }

  /** The node's admin HTTP base URL (/metrics, /livez, /readyz, /status). */
  public String adminUrl(int i) {
    return "http://" + host(i) + ":" + adminPorts[i];
  }

  public List<String> endpoints() {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      out.add(endpoint(i));
    }
    return out;
  }

  public Path dataDir(int i) {
    return dir.resolve(nodeId(i));
  }

  /**
   * The regular files under node {@code i}'s data dir, relative to it, sorted. Safe while the node
   * runs: a file that vanishes during the walk (the node's storage probe writes and deletes one
   * every second) is left out rather than failing the walk, as {@code Files.walk} would.
   */
  public List<Path> files(int i) {
    Path root = dataDir(i);
    List<Path> out = new ArrayList<>();
    if (!Files.exists(root)) {
      return out;
    }
    try {
      Files.walkFileTree(root, new java.nio.file.SimpleFileVisitor<>() {
        @Override
        public java.nio.file.FileVisitResult visitFile(Path file, java.nio.file.attribute.BasicFileAttributes attrs) {
          if (attrs.isRegularFile()) {
            out.add(root.relativize(file));
          }
          return java.nio.file.FileVisitResult.CONTINUE;
        }

        @Override
        public java.nio.file.FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
          if (e instanceof java.nio.file.NoSuchFileException) {
            return java.nio.file.FileVisitResult.CONTINUE;
          }
          throw e;
        }
      });
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    out.sort(null);
    return out;
  }

  public Path log(int i) {
    return dir.resolve(nodeId(i) + ".log");
  }

  private Path writeConfig(int i) throws IOException {
    return writeConfig(i, false);
  }

  private Path writeConfig(int i, boolean join) throws IOException {
    StringBuilder y = new StringBuilder();
    y.append("node-id: ").append(nodeId(i)).append('\n');
    y.append("cluster-id: ").append(clusterId).append('\n');
    y.append("data-dir: ").append(dataDir(i).toAbsolutePath()).append('\n');
    y.append("admin-address: ").append(host(i)).append(':').append(adminPorts[i]).append('\n');
    y.append("peers:\n");
    for (int j = 0; j < capacity; j++) {
      // A joining node needs only its own entry; the members come from the leader.
      if (join ? j == i : j < size) {
        y.append("  ").append(nodeId(j)).append(": {peer: ").append(peerAddress(j))
            .append(", client: ").append(advertised.getOrDefault(j, endpoint(j))).append("}\n");
      }
    }
    if (join) {
      y.append("join: true\n");
    }
    if (advertised.containsKey(i)) {
      y.append("client-listen-address: ").append(endpoint(i)).append('\n');
    }
    Map<String, String> mine = new LinkedHashMap<>(settings);
    mine.putAll(nodeSettings.getOrDefault(i, Map.of()));
    // Values go in as written: a caller may pass YAML (a flow mapping, a quoted string).
    mine.forEach((k, v) -> y.append(k).append(": ").append(v).append('\n'));
    Path file = dir.resolve(nodeId(i) + ".yaml");
    Files.writeString(file, y.toString());
    return file;
  }

  /** Starts every node that is not running. */
  public ProcessCluster start() {
    for (int i = 0; i < size; i++) {
      if (processes[i] == null || !processes[i].isAlive()) {
        start(i);
      }
    }
    return this;
  }

  public void start(int i) {
    start(i, false);
  }

  /** Starts node {@code i} with {@code join: true}: it waits to be added as a member. */
  public void startJoining(int i) {
    start(i, true);
  }

  private void start(int i, boolean join) {
    try {
      Files.createDirectories(dir);
      // A node restarted after it joined recovers its members from its own Raft storage.
      Path config = writeConfig(i, join || (i >= size && Files.exists(dataDir(i))));
      String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
      List<String> cmd = new ArrayList<>(launchPrefixes.getOrDefault(i, List.of()));
      cmd.addAll(List.of(java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
      // -Dholdfast.log.ratis=INFO on the test JVM is passed on to the nodes (Ratis logs WARN otherwise).
      if (System.getProperty("holdfast.log.ratis") != null) {
        cmd.add("-Dholdfast.log.ratis=" + System.getProperty("holdfast.log.ratis"));
      }
      cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass,
          "--config", config.toString()));
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.appendTo(log(i).toFile()));
      pb.environment().putAll(environments.getOrDefault(i, Map.of()));
      processes[i] = pb.start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public boolean isRunning(int i) {
    return processes[i] != null && processes[i].isAlive();
  }

  public long pid(int i) {
    return processes[i].pid();
  }

  /** Node {@code i}'s exit status once its process has ended; empty while it runs or never ran. */
  public java.util.OptionalInt exitCode(int i) {
    Process p = processes[i];
    return p == null || p.isAlive() ? java.util.OptionalInt.empty() : java.util.OptionalInt.of(p.exitValue());
  }

  /** kill -9. */
  public void kill(int i) {
    Process p = processes[i];
    if (p != null) {
      p.destroyForcibly();
      try {
        p.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    closeChannel(i);
  }

  /** SIGTERM and wait for a clean stop. */
  public void stop(int i) {
    Process p = processes[i];
    if (p != null) {
      p.destroy();
      try {
        if (!p.waitFor(15, TimeUnit.SECONDS)) {
          p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    closeChannel(i);
  }

  public void pause(int i) {
    signal(i, "STOP");
  }

  public void resume(int i) {
    signal(i, "CONT");
  }

  private void signal(int i, String sig) {
    try {
      new ProcessBuilder("kill", "-" + sig, Long.toString(pid(i))).inheritIO().start().waitFor(5, TimeUnit.SECONDS);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  public synchronized ManagedChannel channel(int i) {
    if (channels[i] == null) {
      channels[i] = channels0.apply(endpoint(i));
    }
    return channels[i];
  }

  private synchronized void closeChannel(int i) {
    if (channels[i] != null) {
      channels[i].shutdownNow();
      channels[i] = null;
    }
  }

  /** The node's view of the cluster, or null if it does not answer. */
  public ClusterStatusResponse status(int i) {
    if (!isRunning(i)) {
      return null;
    }
    try {
      return AdminServiceGrpc.newBlockingStub(channel(i)).withDeadlineAfter(2, TimeUnit.SECONDS)
          .clusterStatus(ClusterStatusRequest.getDefaultInstance());
    } catch (RuntimeException e) {
      return null;
    }
  }

  /**
   * Waits until a running node reports itself leader and every running node answers and names it;
   * returns its index. (A paused node is running but silent: use another wait while one is.)
   */
  public int awaitLeader(Duration timeout) {
    long end = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < end) {
      int leader = -1;
      boolean allAgree = true;
      String leaderId = null;
      for (int i = 0; i < capacity && allAgree; i++) {
        if (!isRunning(i)) {
          continue;
        }
        ClusterStatusResponse s = status(i);
        if (s == null || s.getLeaderId().isEmpty() || (leaderId != null && !leaderId.equals(s.getLeaderId()))) {
          allAgree = false;
          break;
        }
        leaderId = s.getLeaderId();
        if (s.getRole().equals("LEADER")) {
          leader = i;
        }
      }
      if (allAgree && leader >= 0 && nodeId(leader).equals(leaderId)) {
        return leader;
      }
      sleep(100);
    }
    throw new AssertionError("no leader within " + timeout + "\n" + logTails());
  }

  /** Whether node {@code i}'s log (all its runs) contains {@code text}. */
  public boolean logContains(int i, String text) {
    try {
      return Files.exists(log(i)) && Files.readString(log(i), StandardCharsets.UTF_8).contains(text);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Copies every node's log (all its runs) to {@code dest}, which outlives the test's temporary
   * directory, so that a failure seen only under CI load can be read afterwards. Returns dest.
   */
  public Path keepLogs(Path dest) {
    try {
      Files.createDirectories(dest);
      for (int i = 0; i < capacity; i++) {
        if (Files.exists(log(i))) {
          Files.copy(log(i), dest.resolve(log(i).getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
      }
      return dest.toAbsolutePath();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static final java.util.regex.Pattern EVENT = java.util.regex.Pattern.compile(
      "changes role from|Leader changed|Leader ready|Leadership lost|Lost leadership|round \\d+: result|stopping"
          + "|Raft server .* started|election after leader|leader .* is gone|transferLeadership|Leadership handed|ERROR");

  /**
   * The Raft events in every node's log (role changes, elections, leader changes, stops and
   * starts, errors), the last {@code perNode} of each, cut short: small enough for a failure
   * message that CI shows whole, to be lined up with the client's own times.
   */
  public String events(int perNode) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < capacity; i++) {
      try {
        if (!Files.exists(log(i))) {
          continue;
        }
        List<String> lines = Files.readAllLines(log(i), StandardCharsets.UTF_8).stream()
            .filter(l -> EVENT.matcher(l).find())
            .map(l -> l.length() > 200 ? l.substring(0, 200) + "..." : l)
            .collect(Collectors.toList());
        b.append("\n-- ").append(nodeId(i)).append(" events (").append(lines.size()).append("):");
        lines.subList(Math.max(0, lines.size() - perNode), lines.size()).forEach(l -> b.append("\n  ").append(l));
      } catch (IOException e) {
        b.append("\n-- ").append(nodeId(i)).append(": ").append(e);
      }
    }
    return b.toString();
  }

  public String logTails() {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < capacity; i++) {
      b.append("---- ").append(nodeId(i)).append(" log tail ----\n");
      try {
        List<String> lines = Files.exists(log(i)) ? Files.readAllLines(log(i), StandardCharsets.UTF_8) : List.of();
        b.append(lines.subList(Math.max(0, lines.size() - 30), lines.size()).stream()
            .collect(Collectors.joining("\n"))).append('\n');
      } catch (IOException e) {
        b.append(e).append('\n');
      }
    }
    return b.toString();
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted");
    }
  }

  @Override
  public void close() {
    for (int i = 0; i < capacity; i++) {
      if (processes[i] != null && processes[i].isAlive()) {
        resume(i);
        processes[i].destroyForcibly();
      }
    }
    for (int i = 0; i < capacity; i++) {
      if (processes[i] != null) {
        try {
          processes[i].waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      closeChannel(i);
    }
  }
}
