package io.holdfast.server.testing;

import com.codahale.metrics.MetricRegistry;
import io.holdfast.server.HoldfastServer;
import io.holdfast.server.config.ServerConfig;
import io.holdfast.server.config.ServerConfigLoader;
import io.holdfast.server.raft.CommonPoolFloor;
import io.holdfast.server.state.LogEntry;
import io.holdfast.server.statemachine.HoldfastStateMachine;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.slf4j.bridge.SLF4JBridgeHandler;

/**
 * A node that plays a build knowing apply rules up to {@code HOLDFAST_TEST_SUPPORTED_RULES} (this
 * build's own when unset), for rolling-upgrade tests with real processes:
 * {@code --config node.yaml} as the real main.
 */
public final class RulesServerMain {
  public static final String RULES_ENV = "HOLDFAST_TEST_SUPPORTED_RULES";

  private RulesServerMain() {}

  public static void main(String[] args) throws Exception {
    CommonPoolFloor.raise();
    SLF4JBridgeHandler.removeHandlersForRootLogger();
    SLF4JBridgeHandler.install();
    Path configFile = null;
    for (int i = 0; i + 1 < args.length; i++) {
      if (args[i].equals("--config")) {
        configFile = Path.of(args[i + 1]);
      }
    }
    String rules = System.getenv(RULES_ENV);
    int supported = rules == null ? LogEntry.RULES : Integer.parseInt(rules);
    ServerConfig config = ServerConfigLoader.load(configFile, Map.of(), System.getenv());
    System.err.println("TEST BUILD: plays a build that knows apply rules up to " + supported);
    HoldfastServer server = new HoldfastServer(config, new MetricRegistry(), List.of(),
        new HoldfastStateMachine(supported));
    server.onRemovedFromCluster(() -> System.exit(0), () -> System.exit(1));
    server.start();
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.close();
      stopped.countDown();
    }, "holdfast-shutdown"));
    stopped.await();
  }
}
