package io.holdfast.ops.cli;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.RevokeOutcome;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "revoke", mixinStandardHelpOptions = true,
    description = {"The safe bypass: takes a lock from its holder in one replicated step, records the reason, "
        + "who asked, the former holder and its token in the audit log, and grants the lock to --successor or "
        + "lets its queue proceed (after its lock-delay, if it has one; revoking a lock already ORPHANED ends "
        + "what is left of its lock-delay at once).",
        "Every later grant carries a higher fencing token, so fenced resources refuse anything the former "
            + "holder still sends. Try --dry-run first."},
    footer = {"", "Example:", "  holdfast revoke fleet/config --reason 'node-7 crashed at 03:12' --dry-run",
        "  holdfast revoke fleet/config --reason 'node-7 crashed at 03:12' --if-token 4711 --successor 2211"})
public final class RevokeCommand implements Callable<Integer> {
  @Mixin
  ClusterOptions cluster;

  @Parameters(paramLabel = "NAME")
  String name;

  @Option(names = "--reason", required = true, description = "why; recorded in the audit log")
  String reason;

  @Option(names = "--successor", paramLabel = "SESSION", description = "grant the lock to this session at once")
  long successor;

  @Option(names = "--dry-run", description = "say what would happen; change nothing")
  boolean dryRun;

  @Option(names = "--if-token", paramLabel = "TOKEN", description = "revoke only while this is the lock's token "
      + "(the grant you looked at, e.g. in --dry-run); otherwise change nothing and exit 3")
  long ifToken;

  @Option(names = "--as", description = "who is asking (default: $USER@host)")
  String as;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    try (HoldfastClient client = cluster.client("holdfast-cli")) {
      if (ifToken < 0) {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(),
            "--if-token must be a token (positive), or 0 for none; got " + ifToken);
      }
      RevokeOutcome r = client.admin().revoke(name, reason, successor, dryRun, ClusterOptions.operator(as), ifToken);
      PrintWriter out = spec.commandLine().getOut();
      if (ifToken != 0 && r.formerToken() != ifToken) {
        // Only a leader that predates --if-token ignores it (the condition is not in its protocol).
        PrintWriter err = spec.commandLine().getErr();
        err.println("WARNING: the condition --if-token " + ifToken + " was not checked: the cluster "
            + (r.dryRun() ? "would revoke" : "revoked") + " token " + r.formerToken() + " of session "
            + r.formerHolderSessionId() + ". The leader runs a version older than --if-token; check the lock "
            + "(holdfast lock show " + name + ") before doing anything else.");
        err.flush();
      }
      if (cluster.json()) {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("dry_run", r.dryRun());
        doc.put("lock", name);
        doc.put("former_holder_session_id", r.formerHolderSessionId());
        doc.put("former_token", r.formerToken());
        doc.put("granted_to_session_id", r.grantedToSessionId());
        doc.put("new_token", r.newToken());
        doc.put("orphaned_for_ms", r.orphanedFor().toMillis());
        doc.put("state", Rendering.lockJson(r.lock()));
        Output.json(out, doc);
      } else {
        String verb = r.dryRun() ? "would revoke" : "revoked";
        out.println(verb + " '" + name + "' from session " + r.formerHolderSessionId() + " (token " + r.formerToken()
            + ")");
        if (r.grantedToSessionId() != 0) {
          out.println((r.dryRun() ? "it would go to session " : "now held by session ") + r.grantedToSessionId()
              + " with token " + (r.dryRun() ? "> " + r.formerToken() : Long.toString(r.newToken())));
        } else if (!r.orphanedFor().isZero()) {
          out.println((r.dryRun() ? "it would stay" : "it stays") + " ORPHANED for its lock-delay of "
              + Durations.format(r.orphanedFor()) + ", then the queue proceeds");
        } else {
          out.println(r.dryRun() ? "it would be free (nobody is waiting)" : "it is free (nobody was waiting)");
        }
        if (r.dryRun() && ifToken == 0) {
          out.println("to revoke exactly this grant, run again without --dry-run and with --if-token "
              + r.formerToken());
        }
        out.flush();
      }
      return ifToken != 0 && r.formerToken() != ifToken ? ExitCodes.FAILED : ExitCodes.OK;
    }
  }
}
