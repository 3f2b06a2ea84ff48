package io.holdfast.ops;

import io.holdfast.ops.cli.ExitCodes;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * A local cluster on loopback for development: one server JVM per node, data under one
 * directory, the same cluster again when started on the same directory.
 */
@Command(name = "dev", mixinStandardHelpOptions = true,
    description = {"Starts a local cluster on 127.0.0.1 and stays in the foreground; Ctrl-C stops every node cleanly.",
        "Node i gets client port BASE+i-1, peer port BASE+100+i-1 and admin HTTP port BASE+200+i-1. Started again "
            + "on the same --data-dir, it resumes the same cluster."},
    footer = {"", "Example:", "  holdfast dev --nodes 5 --base-port 7500 --data-dir /tmp/holdfast-dev"})
public final class DevCluster implements Callable<Integer>, AutoCloseable {
  @Option(names = "--nodes", description = "3 or 5 (default 3)")
  int nodes = 3;

  @Option(names = "--base-port", description = "first client port (default 7400, or the one the data dir was created with)")
  Integer basePortOption;

  int basePort = 7400;

  @Option(names = "--data-dir", description = "where the nodes keep their data (default ./data/dev)")
  Path dataDir = Path.of("data", "dev");

  @Spec
  CommandSpec spec;

  private volatile LocalCluster cluster;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    String problem = validate();
    if (problem != null) {
      err.println("holdfast dev: " + problem);
      err.flush();
      return ExitCodes.USAGE;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      close();
      out.println("all nodes stopped");
      out.flush();
      stopped.countDown();
    }, "holdfast-dev-stop"));
    String leader = start(out, err);
    if (leader == null) {
      return ExitCodes.FAILED;
    }
    out.println("Ctrl-C to stop.");
    out.flush();
    watchChildren(err);
    stopped.await();
    return ExitCodes.OK;
  }

  /** Why these options cannot start a cluster, or null. */
  String validate() {
    if (nodes != 3 && nodes != 5) {
      return "--nodes must be 3 or 5, got " + nodes;
    }
    // The peer addresses are in the Raft log: a cluster resumes only on the ports it was made with.
    Path portFile = dataDir.resolve("base-port");
    try {
      Integer stored = Files.exists(portFile) ? Integer.valueOf(Files.readString(portFile).trim()) : null;
      if (stored != null && basePortOption != null && !stored.equals(basePortOption)) {
        return dataDir + " holds a cluster on base port " + stored + "; start it with --base-port " + stored
            + " or use another --data-dir";
      }
      basePort = basePortOption != null ? basePortOption : stored != null ? stored : 7400;
    } catch (IOException | NumberFormatException e) {
      return "cannot read " + portFile + ": " + e.getMessage();
    }
    if (basePort < 1024 || basePort + 200 + nodes > 65535) {
      return "--base-port must leave room for ports " + basePort + ".." + (basePort + 200 + nodes - 1)
          + " between 1024 and 65535";
    }
    Path countFile = dataDir.resolve("nodes");
    try {
      if (Files.exists(countFile)) {
        int existing = Integer.parseInt(Files.readString(countFile).trim());
        if (existing != nodes) {
          return dataDir + " holds a " + existing + "-node cluster; start it with --nodes " + existing
              + " or use another --data-dir";
        }
      }
    } catch (IOException | NumberFormatException e) {
      return "cannot read " + countFile + ": " + e.getMessage();
    }
    for (int i = 0; i < nodes; i++) {
      for (int port : new int[] {clientPort(i), peerPort(i), adminPort(i)}) {
        try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
          s.setReuseAddress(true);
        } catch (IOException e) {
          return "port " + port + " on 127.0.0.1 is in use (choose another --base-port)";
        }
      }
    }
    return null;
  }

  int clientPort(int i) {
    return basePort + i;
  }

  int peerPort(int i) {
    return basePort + 100 + i;
  }

  int adminPort(int i) {
    return basePort + 200 + i;
  }

  List<String> endpoints() {
    List<String> e = new ArrayList<>();
    for (int i = 0; i < nodes; i++) {
      e.add("127.0.0.1:" + clientPort(i));
    }
    return e;
  }

  /** Starts the nodes and waits for a leader; returns its id, or null (after saying why). */
  String start(PrintWriter out, PrintWriter err) throws IOException, InterruptedException {
    Files.createDirectories(dataDir);
    Path idFile = dataDir.resolve("cluster-id");
    if (!Files.exists(idFile)) {
      Files.writeString(idFile, UUID.randomUUID() + "\n");
      Files.writeString(dataDir.resolve("nodes"), nodes + "\n");
      Files.writeString(dataDir.resolve("base-port"), basePort + "\n");
    }
    String clusterId = Files.readString(idFile).trim();
    int[] client = new int[nodes];
    int[] peer = new int[nodes];
    int[] admin = new int[nodes];
    for (int i = 0; i < nodes; i++) {
      client[i] = clientPort(i);
      peer[i] = peerPort(i);
      admin[i] = adminPort(i);
    }
    cluster = new LocalCluster(dataDir, clusterId, client, peer, admin, List.of("-Xmx256m", "-XX:+UseSerialGC"));
    cluster.start();
    int li = cluster.awaitLeader(Duration.ofSeconds(60));
    if (li < 0) {
      err.println("holdfast dev: no leader within 60 s; the nodes' logs say:");
      for (int i = 0; i < nodes; i++) {
        err.println(cluster.tail(i, 15));
      }
      err.flush();
      close();
      return null;
    }
    String leader = LocalCluster.nodeId(li);
    out.println("endpoints: " + String.join(",", endpoints()));
    for (int i = 0; i < nodes; i++) {
      out.println("  n" + (i + 1) + ": client 127.0.0.1:" + clientPort(i) + ", admin http://127.0.0.1:" + adminPort(i)
          + " (/metrics /livez /readyz /status)");
    }
    out.println("leader: " + leader + " (127.0.0.1:" + clientPort(li) + ")");
    out.println("data and logs: " + dataDir.toAbsolutePath() + "/n*/ (cluster " + clusterId + ")");
    out.flush();
    return leader;
  }

  private void watchChildren(PrintWriter err) {
    for (int i = 0; i < nodes; i++) {
      int node = i;
      Process p = cluster.process(i);
      p.onExit().thenRun(() -> {
        if (!cluster.stopping()) {
          err.println("holdfast dev: node n" + (node + 1) + " exited with code " + p.exitValue()
              + "; the others keep running. Its log ends:\n" + cluster.tail(node, 15));
          err.flush();
        }
      });
    }
  }

  /** SIGTERM to every node, then SIGKILL to any that has not stopped within 10 s. */
  @Override
  public void close() {
    LocalCluster c = cluster;
    if (c != null) {
      c.close();
    }
  }
}
