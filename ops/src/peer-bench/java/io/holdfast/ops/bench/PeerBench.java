package io.holdfast.ops.bench;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import io.holdfast.ops.cli.ExitCodes;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The peer side of ops/benchmarks.md: starts a 3-member etcd or ZooKeeper cluster on loopback and
 * runs W1/W2 ({@code locks}) or W5 ({@code orphan}) on it the way {@code holdfast bench} runs them
 * on Holdfast, printing the same report. Built and run only by the ops {@code peer-bench} profile.
 */
@Command(name = "peer-bench", mixinStandardHelpOptions = true,
    description = {"Measures etcd (jetcd Lock API, a lease per client) or ZooKeeper (Curator InterProcessMutex, a "
        + "session per client) the way holdfast bench measures Holdfast, on a cluster it starts and stops itself."},
    footer = {"", "Examples:", "  peer-bench etcd locks --clients 16 --duration 30s",
        "  peer-bench zookeeper locks --clients 16 --shared -o json", "  peer-bench etcd orphan --trials 5 --ttl 5s"})
public final class PeerBench implements Runnable {
  @Override
  public void run() {
    throw new CommandLine.ParameterException(new CommandLine(this), "a peer is required: etcd or zookeeper");
  }

  public static void main(String[] args) {
    quietLogs();
    System.exit(commandLine().execute(args));
  }

  static CommandLine commandLine() {
    CommandLine root = new CommandLine(new PeerBench()).setExecutionExceptionHandler(new ExitCodes());
    for (PeerTarget.Peer peer : PeerTarget.Peer.values()) {
      CommandLine sub = new CommandLine(new PeerCommand(peer));
      sub.addSubcommand("locks", new CommandLine(new PeerLocksBench(peer)));
      sub.addSubcommand("orphan", new CommandLine(new PeerOrphanBench(peer)));
      root.addSubcommand(peer.name(), sub);
    }
    return root;
  }

  /** The clients' libraries log their retries and connections chattily; the bench prints its own lines. */
  static void quietLogs() {
    if (LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME) instanceof Logger root) {
      root.setLevel(Level.WARN);
    }
  }

  /** {@code peer-bench etcd|zookeeper}: only a holder of the workloads below it. */
  @Command(mixinStandardHelpOptions = true, description = "A workload on this peer: locks (W1, --shared W2) or orphan (W5).")
  static final class PeerCommand implements Runnable {
    private final PeerTarget.Peer peer;

    PeerCommand(PeerTarget.Peer peer) {
      this.peer = peer;
    }

    @Override
    public void run() {
      throw new CommandLine.ParameterException(new CommandLine(this), "a workload is required for " + peer
          + ": locks or orphan");
    }
  }
}
