package io.holdfast.ops.cli;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.LockDescription;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "locks", mixinStandardHelpOptions = true,
    description = "Every lock that is held, orphaned or waited on: who holds it (client@host pid), its session, "
        + "token, how long it has been held, how long the holder's session has left, and its queue.",
    footer = {"", "Example:", "  holdfast locks fleet/", "  holdfast locks -o json | jq '.[] | select(.state==\"ORPHANED\")'"})
public final class LocksCommand implements Callable<Integer> {
  @Mixin
  ClusterOptions cluster;

  @Parameters(arity = "0..1", paramLabel = "PREFIX", description = "only locks whose names start with it")
  String prefix = "";

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    try (HoldfastClient client = cluster.client("holdfast-cli")) {
      List<LockDescription> locks = client.admin().locks(prefix);
      if (cluster.json()) {
        Output.json(spec.commandLine().getOut(), locks.stream().map(Rendering::lockJson).toList());
      } else {
        Output.table(spec.commandLine().getOut(), Rendering.LOCK_HEADER, locks.stream().map(Rendering::lockRow).toList());
      }
      return ExitCodes.OK;
    }
  }
}
