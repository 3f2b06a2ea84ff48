package io.holdfast.server.testing;

import com.codahale.metrics.MetricRegistry;
import io.holdfast.server.HoldfastServer;
import io.holdfast.server.config.ServerConfig;
import io.holdfast.server.state.LogEntry;
import io.holdfast.server.statemachine.HoldfastStateMachine;
import java.util.List;

/**
 * A node that plays a build knowing apply rules up to {@code HOLDFAST_TEST_SUPPORTED_RULES} (this
 * build's own when unset), for rolling-upgrade tests with real processes:
 * {@code --config node.yaml} as the real main.
 */
public final class RulesServerMain {
  public static final String RULES_ENV = "HOLDFAST_TEST_SUPPORTED_RULES";

  private RulesServerMain() {}

  public static void main(String[] args) throws Exception {
    ServerConfig config = TestMains.setUp(args);
    String rules = System.getenv(RULES_ENV);
    int supported = rules == null ? LogEntry.RULES : Integer.parseInt(rules);
    System.err.println("TEST BUILD: plays a build that knows apply rules up to " + supported);
    new HoldfastServer(config, new MetricRegistry(), List.of(), new HoldfastStateMachine(supported))
        .serveUntilShutdown();
  }
}
