package io.holdfast.ops;

import io.holdfast.ops.bench.BenchCommand;
import io.holdfast.ops.cli.AuditCommand;
import io.holdfast.ops.cli.ExitCodes;
import io.holdfast.ops.cli.KvCommand;
import io.holdfast.ops.cli.LeaderCommand;
import io.holdfast.ops.cli.LockCommand;
import io.holdfast.ops.cli.MemberCommand;
import io.holdfast.ops.cli.LocksCommand;
import io.holdfast.ops.cli.RevokeCommand;
import io.holdfast.ops.cli.SessionCommand;
import io.holdfast.ops.cli.SessionsCommand;
import io.holdfast.ops.cli.SnapshotCommand;
import io.holdfast.ops.cli.StatusCommand;
import io.holdfast.ops.cli.WatchCommand;
import io.holdfast.server.HoldfastServerMain;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code holdfast}: the operator's command line, and the launcher of servers. */
@Command(name = "holdfast", mixinStandardHelpOptions = true, version = "holdfast 0.1.0",
    description = "Holdfast, a lock and lease service: see who holds what, and take it back safely.",
    subcommands = {StatusCommand.class, LocksCommand.class, LockCommand.class, SessionsCommand.class,
        SessionCommand.class, RevokeCommand.class, AuditCommand.class, KvCommand.class, WatchCommand.class, BenchCommand.class, DevCluster.class, HoldfastCli.Server.class,
        MemberCommand.class, LeaderCommand.class, SnapshotCommand.class,
        CommandLine.HelpCommand.class},
    footer = {"", "Exit codes: 0 ok, 1 failed, 2 usage, 3 not found or precondition failed, 4 lock lost.",
        "Endpoints come from --endpoints or $HOLDFAST_ENDPOINTS.", "", "Example:", "  holdfast locks fleet/"})
public final class HoldfastCli implements Runnable {

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  public static CommandLine commandLine() {
    // picocli answers invalid input with exit code 2 (usage) by itself.
    return new CommandLine(new HoldfastCli()).setExecutionExceptionHandler(new ExitCodes());
  }

  @Override
  public void run() {
    throw new CommandLine.ParameterException(new CommandLine(this), "a command is required (see holdfast --help)");
  }

  @Command(name = "server", mixinStandardHelpOptions = true,
      description = "Runs one node in the foreground until SIGTERM or Ctrl-C.",
      footer = {"", "Example:", "  holdfast server --config /etc/holdfast/holdfast.yaml --set data-dir=/var/lib/holdfast"})
  static final class Server implements Callable<Integer> {
    @Option(names = "--config", paramLabel = "FILE", description = "the node's YAML config")
    String config;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "override one config key")
    Map<String, String> overrides = new LinkedHashMap<>();

    @Override
    public Integer call() {
      List<String> args = new ArrayList<>();
      if (config != null) {
        args.addAll(List.of("--config", config));
      }
      overrides.forEach((k, v) -> args.addAll(List.of("--set", k + "=" + v)));
      HoldfastServerMain.main(args.toArray(new String[0]));
      return 0;
    }
  }
}
