package io.holdfast.client.testing;

import io.holdfast.client.HoldfastClient;
import io.holdfast.server.testing.ProcessCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One real 3-node cluster (and a client for it) shared by the tests of a class:
 * {@code @RegisterExtension static final ClusterExtension CLUSTER = new ClusterExtension(Map.of());}
 */
public final class ClusterExtension implements BeforeAllCallback, AfterAllCallback {
  private final Map<String, String> settings;
  private final String clientName;
  private Path dir;
  private ProcessCluster cluster;
  private HoldfastClient client;

  public ClusterExtension(Map<String, String> settings, String clientName) {
    this.settings = settings;
    this.clientName = clientName;
  }

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    dir = Files.createTempDirectory("holdfast-" + context.getRequiredTestClass().getSimpleName());
    cluster = new ProcessCluster(3, dir, settings).start();
    cluster.awaitLeader(Duration.ofSeconds(60));
    client = HoldfastClient.builder().endpoints(cluster.endpoints()).clientName(clientName).build();
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    if (client != null) {
      client.close();
    }
    if (cluster != null) {
      cluster.close();
    }
    if (dir != null) {
      try (var files = Files.walk(dir)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  public ProcessCluster cluster() {
    return cluster;
  }

  public HoldfastClient client() {
    return client;
  }
}
