package io.holdfast.ops.bench;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.RetryPolicy;
import io.holdfast.ops.LocalCluster;
import io.holdfast.ops.cli.Output;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import picocli.CommandLine.Option;

/** Where a bench runs: an existing cluster ({@code --endpoints}), or one it starts ({@code --local N}). */
final class BenchTarget {
  @Option(names = "--endpoints", paramLabel = "HOST:PORT[,...]",
      description = "client endpoints of a running cluster (default: $HOLDFAST_ENDPOINTS)")
  String endpoints;

  @Option(names = "--local", paramLabel = "N",
      description = "start a local cluster of N (3 or 5) server JVMs on free loopback ports for this run, and stop it after")
  Integer local;

  @Option(names = "--local-dir", paramLabel = "DIR",
      description = "where the local cluster keeps its data and logs (default: a temporary directory, removed after)")
  Path localDir;

  @Option(names = "--server-jvm-flags", paramLabel = "FLAGS",
      description = "JVM flags of local servers (default: ${DEFAULT-VALUE})")
  String serverJvmFlags = "-Xmx1g -XX:+UseSerialGC";

  @Option(names = "--server-setting", paramLabel = "KEY=VALUE",
      description = "a line for every local server's config file, e.g. election-timeout-min-ms=300 (repeatable)")
  java.util.List<String> serverSettings = new java.util.ArrayList<>();

  @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", description = "table (default) or json")
  Output.Format output = Output.Format.table;

  boolean json() {
    return output == Output.Format.json;
  }

  /** What a bench needs to be told before it starts; null when the options make sense. */
  String problem(boolean needsLocal) {
    if (local != null && endpoints != null) {
      return "give --endpoints or --local, not both";
    }
    if (local != null && local != 3 && local != 5) {
      return "--local must be 3 or 5, got " + local;
    }
    for (String kv : serverSettings) {
      int eq = kv.indexOf('=');
      if (eq <= 0 || eq == kv.length() - 1) {
        return "--server-setting takes KEY=VALUE, got '" + kv + "'";
      }
      if (local == null) {
        return "--server-setting applies to a cluster the bench starts: add --local 3";
      }
    }
    if (needsLocal && local == null) {
      return "this workload kills server processes, so it runs only on a cluster it starts: add --local 3";
    }
    if (local == null && (endpoints == null || endpoints.isBlank()) && System.getenv("HOLDFAST_ENDPOINTS") == null) {
      return "give --endpoints (or $HOLDFAST_ENDPOINTS), or --local 3 to start a cluster for the run";
    }
    return null;
  }

  /** Starts the local cluster when asked for one; the returned target stops it when closed. */
  Target open(PrintWriter err) throws IOException, InterruptedException {
    if (local == null) {
      String e = endpoints != null ? endpoints : System.getenv("HOLDFAST_ENDPOINTS");
      return new Target(Arrays.stream(e.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList(), null, null);
    }
    Path dir = localDir != null ? localDir : Files.createTempDirectory("holdfast-bench");
    LocalCluster cluster = LocalCluster.onFreePorts(dir, local,
        Arrays.stream(serverJvmFlags.trim().split("\\s+")).filter(s -> !s.isEmpty()).toList());
    // Every bench client shares one identity where a fleet has one per agent, so the per-identity
    // guards (1000 sessions, 1000 requests a second) would measure the guard, not the cluster.
    cluster.set("max-sessions-per-identity", "0").set("rate-limit-per-identity", "0");
    for (String kv : serverSettings) {
      int eq = kv.indexOf('=');
      cluster.set(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
    }
    cluster.start();
    int leader = cluster.awaitLeader(Duration.ofSeconds(60));
    if (leader < 0) {
      StringBuilder why = new StringBuilder("the local cluster elected no leader within 60 s:");
      for (int i = 0; i < cluster.size(); i++) {
        why.append('\n').append(cluster.tail(i, 10));
      }
      cluster.close();
      throw new IllegalStateException(why.toString());
    }
    err.println("local cluster: " + String.join(",", cluster.endpoints()) + " (data " + dir + ")");
    err.flush();
    return new Target(cluster.endpoints(), cluster, localDir == null ? dir : null);
  }

  /** The endpoints to use, and the local cluster if there is one. */
  record Target(List<String> endpoints, LocalCluster cluster, Path removeOnClose) implements AutoCloseable {
    HoldfastClient client(String name, Duration callTimeout) {
      return HoldfastClient.builder().endpoints(endpoints).clientName(name).callTimeout(callTimeout)
          .retryPolicy(RetryPolicy.exponentialJitter(Duration.ofMillis(20), Duration.ofMillis(500), Duration.ofSeconds(30)))
          .build();
    }

    @Override
    public void close() {
      if (cluster != null) {
        cluster.close();
      }
      if (removeOnClose != null) {
        try (Stream<Path> files = Files.walk(removeOnClose)) {
          files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
          // a temporary directory; the OS cleans it eventually
        }
      }
    }
  }
}
