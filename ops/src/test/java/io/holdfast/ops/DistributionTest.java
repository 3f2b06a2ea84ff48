package io.holdfast.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.client.HoldfastClient;
import io.holdfast.client.LockLease;
import io.holdfast.client.RetryPolicy;
import io.holdfast.client.Session;
import io.holdfast.server.config.ServerConfig;
import io.holdfast.server.config.ServerConfigLoader;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tarball as an operator gets it: unpacked into an empty folder, its sample configs (with
 * free loopback ports and local data dirs in place of the sample hosts) start a 3-node cluster
 * through its own bin/holdfast, which serves a lock. Runs in the package phase, after the
 * assembly (see ops/pom.xml), which passes the tarball's path.
 */
class DistributionTest {
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path dir;

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  static int run(Path home, Path log, List<String> args) throws Exception {
    Process p = launcher(home, log, args).start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "bin/holdfast " + args + " finished");
    return p.exitValue();
  }

  static ProcessBuilder launcher(Path home, Path log, List<String> args) {
    List<String> cmd = new ArrayList<>(List.of(home.resolve("bin/holdfast").toString()));
    cmd.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
    pb.environment().put("HOLDFAST_HEAP", "192m");
    pb.environment().put("HOLDFAST_JAVA_OPTS", "-XX:+UseSerialGC -XX:TieredStopAtLevel=1");
    pb.environment().remove("HOLDFAST_ENDPOINTS");
    return pb;
  }

  @Test
  void theUnpackedTarballRunsAThreeNodeClusterFromItsSampleConfigs() throws Exception {
    String tarball = System.getProperty("holdfast.dist.tarball");
    Assumptions.assumeTrue(tarball != null, "runs in the package phase, once the tarball exists");
    Path tar = Path.of(tarball);
    assertTrue(Files.isRegularFile(tar), tar + " was built");
    String top = tar.getFileName().toString().replace(".tar.gz", "");

    Path unpacked = Files.createDirectories(dir.resolve("unpacked"));
    Process untar = new ProcessBuilder("tar", "-xzf", tar.toString(), "-C", unpacked.toString()).inheritIO().start();
    assertTrue(untar.waitFor(60, TimeUnit.SECONDS) && untar.exitValue() == 0, "tar -xzf");
    Path home = unpacked.resolve(top);

    // What an operator finds.
    assertTrue(Files.isExecutable(home.resolve("bin/holdfast")));
    try (Stream<Path> lib = Files.list(home.resolve("lib"))) {
      assertTrue(lib.anyMatch(p -> p.getFileName().toString().startsWith("holdfast-ops-")), "lib/ has the jars");
    }
    for (String f : List.of("INSTALL.md", "systemd/holdfast.service", "prometheus/alerts.yml",
        "grafana/holdfast.json", "conf/join-node.yaml", "runbooks/ghost-lock.md", "runbooks/member-down.md",
        "runbooks/quorum-lost.md", "runbooks/replace-node.md", "runbooks/rolling-restart.md",
        "runbooks/certificate-rotation.md")) {
      assertTrue(Files.isRegularFile(home.resolve(f)), f + " is in the tarball");
    }
    // Every sample config is valid as shipped.
    for (String set : List.of("3-nodes", "5-nodes")) {
      int n = set.startsWith("3") ? 3 : 5;
      for (int i = 1; i <= n; i++) {
        ServerConfig c = ServerConfigLoader.load(home.resolve("conf/" + set + "/n" + i + ".yaml"), Map.of(), Map.of());
        assertEquals(n, c.peers().size());
        assertEquals("n" + i, c.nodeId());
      }
    }
    assertTrue(ServerConfigLoader.load(home.resolve("conf/join-node.yaml"), Map.of(), Map.of()).join());

    // The 3-node samples, moved onto this host: hosts 10.0.0.N become 127.0.0.1 with free ports.
    int[][] ports = new int[3][3];
    for (int[] p : ports) {
      for (int k = 0; k < 3; k++) {
        p[k] = freePort();
      }
    }
    List<Path> configs = new ArrayList<>();
    for (int i = 1; i <= 3; i++) {
      String y = Files.readString(home.resolve("conf/3-nodes/n" + i + ".yaml"));
      for (int j = 1; j <= 3; j++) {
        y = y.replace("10.0.0." + j + ":7400", "127.0.0.1:" + ports[j - 1][0])
            .replace("10.0.0." + j + ":7410", "127.0.0.1:" + ports[j - 1][1])
            .replace("10.0.0." + j + ":7420", "127.0.0.1:" + ports[j - 1][2]);
      }
      y = y.replace("data-dir: /var/lib/holdfast", "data-dir: " + dir.resolve("data/n" + i).toAbsolutePath());
      String settings = y.lines().filter(l -> !l.trim().startsWith("#")).collect(java.util.stream.Collectors.joining("\n"));
      assertTrue(!settings.contains("10.0.0.") && !settings.contains("/var/lib"), "every host-specific value was rewritten: "
          + settings);
      Path c = dir.resolve("n" + i + ".yaml");
      Files.writeString(c, y);
      configs.add(c);
    }
    List<String> endpoints = new ArrayList<>();
    for (int[] p : ports) {
      endpoints.add("127.0.0.1:" + p[0]);
    }
    String endpointList = String.join(",", endpoints);

    List<Process> nodes = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        nodes.add(launcher(home, dir.resolve("n" + (i + 1) + ".log"),
            List.of("server", "--config", configs.get(i).toString())).start());
      }
      try (HoldfastClient client = HoldfastClient.builder().endpoints(endpoints).clientName("dist-test")
          .retryPolicy(RetryPolicy.exponentialJitter(Duration.ofMillis(100), Duration.ofSeconds(1), Duration.ofSeconds(90)))
          .build();
          Session s = client.newSession(Duration.ofSeconds(10));
          LockLease lease = s.lock("dist/smoke")) {
        assertTrue(lease.token() > 0);
        Path out = dir.resolve("cli.out");
        assertEquals(0, run(home, out, List.of("lock", "show", "dist/smoke", "-o", "json", "--endpoints", endpointList)),
            Files.readString(out));
        String text = Files.readString(out);
        JsonNode shown = JSON.readTree(text.substring(text.indexOf('{')));
        assertEquals(lease.token(), shown.get("token").asLong(), "the tarball's CLI sees the lock: " + text);
        assertEquals(0, run(home, dir.resolve("status.out"), List.of("status", "--endpoints", endpointList)),
            Files.readString(dir.resolve("status.out")));
      }
      assertTrue(Files.readString(dir.resolve("n1.log")).contains("Effective configuration"),
          "the node logs its effective configuration");
    } finally {
      for (Process p : nodes) {
        p.destroy();
      }
      for (Process p : nodes) {
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      }
    }
  }
}
