package io.holdfast.ops.cli;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.RetryPolicy;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import picocli.CommandLine.Option;

/** Options every command that talks to a cluster shares. */
public final class ClusterOptions {
  static final String DEFAULT_ENDPOINTS = "127.0.0.1:7400,127.0.0.1:7401,127.0.0.1:7402";

  @Option(names = "--endpoints", paramLabel = "HOST:PORT[,...]",
      description = "client endpoints of the cluster (default: $HOLDFAST_ENDPOINTS, else " + DEFAULT_ENDPOINTS + ")")
  String endpoints;

  @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", description = "table (default) or json")
  Output.Format output = Output.Format.table;

  @Option(names = "--timeout", paramLabel = "DURATION", converter = Durations.class,
      description = "give up when no leader answers within this long (default 10s)")
  Duration timeout = Duration.ofSeconds(10);

  List<String> endpointList() {
    String e = endpoints;
    if (e == null || e.isBlank()) {
      e = System.getenv("HOLDFAST_ENDPOINTS");
    }
    if (e == null || e.isBlank()) {
      e = DEFAULT_ENDPOINTS;
    }
    return Arrays.stream(e.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
  }

  HoldfastClient client(String name) {
    return HoldfastClient.builder().endpoints(endpointList()).clientName(name)
        .callTimeout(Duration.ofMillis(Math.min(5_000, timeout.toMillis())))
        .retryPolicy(RetryPolicy.exponentialJitter(Duration.ofMillis(50), Duration.ofSeconds(1), timeout))
        .build();
  }

  boolean json() {
    return output == Output.Format.json;
  }

  /** Who the operator is, for the audit log: $USER@host unless --as says otherwise. */
  static String operator(String as) {
    if (as != null && !as.isBlank()) {
      return as;
    }
    String user = System.getProperty("user.name", "unknown");
    try {
      return user + "@" + java.net.InetAddress.getLocalHost().getHostName();
    } catch (Exception e) {
      return user;
    }
  }
}
