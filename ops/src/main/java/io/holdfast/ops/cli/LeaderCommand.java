package io.holdfast.ops.cli;

import io.holdfast.proto.v1.TransferLeaderRequest;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code holdfast leader transfer [--to NODE]}. */
@Command(name = "leader", mixinStandardHelpOptions = true, description = "Leadership operations.",
    subcommands = LeaderCommand.Transfer.class,
    footer = {"", "Example:", "  holdfast leader transfer --to n2", "", "See ops/runbooks/rolling-restart.md."})
public final class LeaderCommand {

  @Command(name = "transfer", mixinStandardHelpOptions = true,
      description = {"Hands leadership to another member (before restarting or removing the leader). "
          + "Without --to the leader picks the follower it heard from last."},
      footer = {"", "Example:", "  holdfast leader transfer --to n2"})
  static final class Transfer implements Callable<Integer> {
    @Mixin
    ClusterOptions cluster;

    @Spec
    CommandSpec spec;

    @Option(names = "--to", paramLabel = "NODE", description = "the member that should lead")
    String to;

    @Override
    public Integer call() {
      try (AdminChannels admin = cluster.adminChannels()) {
        String endpoint = admin.leader();
        String before = admin.status(endpoint).getMemberId();
        var reply = admin.stub(endpoint, cluster.timeout.plus(Duration.ofSeconds(15))).transferLeader(
            TransferLeaderRequest.newBuilder().setTo(to == null ? "" : to)
                .setTimeoutMs(Math.min(300_000, cluster.timeout.toMillis())).build());
        var out = spec.commandLine().getOut();
        if (cluster.json()) {
          Output.json(out, Map.of("from", before, "leader", reply.getLeaderId()));
        } else {
          out.println("leader: " + before + " -> " + reply.getLeaderId());
          out.flush();
        }
        return ExitCodes.OK;
      }
    }
  }
}
