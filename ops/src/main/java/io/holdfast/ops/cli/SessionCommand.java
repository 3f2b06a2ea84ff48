package io.holdfast.ops.cli;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.SessionDescription;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "session", mixinStandardHelpOptions = true, description = "Look at one session, or end it.",
    subcommands = {SessionCommand.Show.class, SessionCommand.Expire.class},
    footer = {"", "Examples:", "  holdfast session show 1042", "  holdfast session expire 1042 --reason 'host node-7 is powered off'"})
public final class SessionCommand {

  @Command(name = "show", mixinStandardHelpOptions = true, description = "One session: client, TTL left, locks, waits.",
      footer = {"", "Example:", "  holdfast session show 1042 -o json"})
  static final class Show implements Callable<Integer> {
    @Mixin
    ClusterOptions cluster;

    @Parameters(paramLabel = "ID")
    long id;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
      try (HoldfastClient client = cluster.client("holdfast-cli")) {
        SessionDescription s = client.admin().sessions().stream().filter(x -> x.id() == id).findFirst().orElse(null);
        PrintWriter out = spec.commandLine().getOut();
        if (s == null) {
          spec.commandLine().getErr().println("holdfast session show: session " + id
              + " not found (closed, expired or never opened)");
          spec.commandLine().getErr().flush();
          return ExitCodes.NOT_FOUND;
        }
        if (cluster.json()) {
          Output.json(out, Rendering.sessionJson(s));
        } else {
          Output.table(out, Rendering.SESSION_HEADER, List.of(Rendering.sessionRow(s)));
          if (!s.labels().isEmpty()) {
            out.println("labels: " + s.labels());
          }
          out.flush();
        }
        return ExitCodes.OK;
      }
    }
  }

  @Command(name = "expire", mixinStandardHelpOptions = true,
      description = "Ends a session now (a host known dead): its locks are released as an expiry would "
          + "(after their lock-delay), and the audit log records the reason and who asked.",
      footer = {"", "Example:", "  holdfast session expire 1042 --reason 'node-7 powered off, ticket OPS-118'"})
  static final class Expire implements Callable<Integer> {
    @Mixin
    ClusterOptions cluster;

    @Parameters(paramLabel = "ID")
    long id;

    @Option(names = "--reason", required = true, description = "why; recorded in the audit log")
    String reason;

    @Option(names = "--as", description = "who is asking (default: $USER@host)")
    String as;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
      try (HoldfastClient client = cluster.client("holdfast-cli")) {
        List<String> released = client.admin().expireSession(id, reason, ClusterOptions.operator(as));
        PrintWriter out = spec.commandLine().getOut();
        if (cluster.json()) {
          Map<String, Object> doc = new LinkedHashMap<>();
          doc.put("session_id", id);
          doc.put("released_locks", released);
          Output.json(out, doc);
        } else {
          out.println("session " + id + " expired; released " + (released.isEmpty() ? "no locks" : String.join(", ", released)));
          out.flush();
        }
        return ExitCodes.OK;
      }
    }
  }
}
