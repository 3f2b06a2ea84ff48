package io.holdfast.server;

import io.holdfast.server.config.ConfigException;
import io.holdfast.server.config.ServerConfig;
import io.holdfast.server.config.ServerConfigLoader;
import io.holdfast.server.raft.CommonPoolFloor;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.bridge.SLF4JBridgeHandler;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Runs one node: {@code holdfast-server --config node.yaml [--set key=value ...]}. */
@Command(name = "holdfast-server", mixinStandardHelpOptions = true, version = "holdfast 0.1.0",
    description = "Runs one Holdfast node until SIGTERM or Ctrl-C.")
public final class HoldfastServerMain implements Callable<Integer> {
  private static final Logger LOG = LoggerFactory.getLogger(HoldfastServerMain.class);

  @Option(names = "--config", description = "YAML config file")
  Path configFile;

  @Option(names = "--set", description = "override one config key, e.g. --set data-dir=/tmp/n1")
  Map<String, String> overrides = new LinkedHashMap<>();

  public static void main(String[] args) {
    CommonPoolFloor.raise();
    SLF4JBridgeHandler.removeHandlersForRootLogger();
    SLF4JBridgeHandler.install();
    System.exit(new CommandLine(new HoldfastServerMain()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    ServerConfig config;
    try {
      config = ServerConfigLoader.load(configFile, overrides, System.getenv());
    } catch (ConfigException e) {
      System.err.println("holdfast-server: bad configuration: " + e.getMessage());
      return 2;
    }
    LOG.info("Effective configuration: {}", config);
    HoldfastServer server;
    try {
      server = new HoldfastServer(config);
    } catch (ConfigException e) {
      // What only loading the files shows (a PEM that does not parse, a malformed token file).
      System.err.println("holdfast-server: bad configuration: " + e.getMessage());
      return 2;
    }
    try {
      server.serveUntilShutdown();
    } catch (ConfigException e) {
      System.err.println("holdfast-server: bad configuration: " + e.getMessage());
      return 2;
    } catch (java.io.IOException e) {
      // E.g. Raft storage that cannot be written: the message says what and where; no stack trace.
      System.err.println("holdfast-server: cannot start: " + e.getMessage());
      return 1;
    }
    return 0;
  }
}
