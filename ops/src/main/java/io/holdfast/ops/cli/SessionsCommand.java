package io.holdfast.ops.cli;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.SessionDescription;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

@Command(name = "sessions", mixinStandardHelpOptions = true,
    description = "Every live session: its client, host, pid, TTL and what is left of it, its locks and waits.",
    footer = {"", "Example:", "  holdfast sessions -o json"})
public final class SessionsCommand implements Callable<Integer> {
  @Mixin
  ClusterOptions cluster;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    try (HoldfastClient client = cluster.client("holdfast-cli")) {
      List<SessionDescription> sessions = client.admin().sessions();
      if (cluster.json()) {
        Output.json(spec.commandLine().getOut(), sessions.stream().map(Rendering::sessionJson).toList());
      } else {
        Output.table(spec.commandLine().getOut(), Rendering.SESSION_HEADER,
            sessions.stream().map(Rendering::sessionRow).toList());
      }
      return ExitCodes.OK;
    }
  }
}
