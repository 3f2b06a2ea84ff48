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

  @Option(names = "--timeout", paramLabel = "DURATION", converter = PositiveDurations.class,
      description = "give up when no leader answers within this long (default 10s)")
  Duration timeout = Duration.ofSeconds(10);

  @Option(names = "--tls-ca", paramLabel = "PEM",
      description = "connect with TLS, trusting this CA (default: $HOLDFAST_TLS_CA; none: plaintext)")
  java.nio.file.Path tlsCa;

  @Option(names = "--tls-cert", paramLabel = "PEM",
      description = "client certificate for mutual TLS; its CN or SAN is your identity (default: $HOLDFAST_TLS_CERT)")
  java.nio.file.Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "PEM",
      description = "the client certificate's private key, PKCS#8 (default: $HOLDFAST_TLS_KEY)")
  java.nio.file.Path tlsKey;

  @Option(names = "--token-file", paramLabel = "FILE",
      description = "file holding a bearer token to authenticate with (default: $HOLDFAST_TOKEN_FILE)")
  java.nio.file.Path tokenFile;

  private static java.nio.file.Path orEnv(java.nio.file.Path p, String env) {
    String v = System.getenv(env);
    return p != null ? p : v == null || v.isBlank() ? null : java.nio.file.Path.of(v);
  }

  List<String> endpointList() {
    String e = endpoints;
    if (e == null || e.isBlank()) {
      e = System.getenv("HOLDFAST_ENDPOINTS");
    }
    if (e == null || e.isBlank()) {
      e = DEFAULT_ENDPOINTS;
    }
    List<String> list = Arrays.stream(e.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    for (String one : list) {
      // Checked here for every command: the admin commands' channels would retry a bad one until --timeout.
      if (!io.holdfast.client.internal.Endpoints.isHostPort(one)) {
        throw new IllegalArgumentException("--endpoints: '" + one + "' is not host:port");
      }
    }
    return list;
  }

  HoldfastClient client(String name) {
    HoldfastClient.Builder b = HoldfastClient.builder().endpoints(endpointList()).clientName(name)
        .callTimeout(Duration.ofMillis(Math.min(5_000, timeout.toMillis())))
        .retryPolicy(RetryPolicy.exponentialJitter(Duration.ofMillis(50), Duration.ofSeconds(1), timeout));
    io.holdfast.client.TlsConfig tls = tls();
    if (tls != null) {
      b.tls(tls);
    }
    String token = bearerToken();
    if (token != null) {
      b.bearerToken(token);
    }
    return b.build();
  }

  /** Raw admin stubs for membership, leadership and backups, with the same TLS and token. */
  AdminChannels adminChannels() {
    return new AdminChannels(new io.holdfast.client.internal.Endpoints(endpointList(), tls(), bearerToken()),
        endpointList(), timeout);
  }

  private io.holdfast.client.TlsConfig tls() {
    java.nio.file.Path ca = orEnv(tlsCa, "HOLDFAST_TLS_CA");
    java.nio.file.Path cert = orEnv(tlsCert, "HOLDFAST_TLS_CERT");
    java.nio.file.Path key = orEnv(tlsKey, "HOLDFAST_TLS_KEY");
    if (ca != null) {
      return new io.holdfast.client.TlsConfig(ca, cert, key);
    } else if (cert != null || key != null) {
      throw new IllegalArgumentException("--tls-cert and --tls-key need --tls-ca (the CA that signed the servers)");
    }
    return null;
  }

  private String bearerToken() {
    java.nio.file.Path tokens = orEnv(tokenFile, "HOLDFAST_TOKEN_FILE");
    if (tokens == null) {
      return null;
    }
    try {
      return java.nio.file.Files.readString(tokens).strip();
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException("--token-file: cannot read " + tokens + ": " + e.getMessage(), e);
    }
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
