package io.holdfast.server.testing;

import io.holdfast.server.config.ServerConfig;
import io.holdfast.server.config.ServerConfigLoader;
import io.holdfast.server.raft.CommonPoolFloor;
import java.nio.file.Path;
import java.util.Map;
import org.slf4j.bridge.SLF4JBridgeHandler;

/** What the test builds' mains ({@code --config node.yaml}, as the real one) do before they differ. */
public final class TestMains {
  private TestMains() {}

  /** Sets the JVM up as holdfast-server's own main does, and loads the node's config. */
  public static ServerConfig setUp(String[] args) throws Exception {
    CommonPoolFloor.raise();
    SLF4JBridgeHandler.removeHandlersForRootLogger();
    SLF4JBridgeHandler.install();
    Path configFile = null;
    for (int i = 0; i + 1 < args.length; i++) {
      if (args[i].equals("--config")) {
        configFile = Path.of(args[i + 1]);
      }
    }
    return ServerConfigLoader.load(configFile, Map.of(), System.getenv());
  }
}
