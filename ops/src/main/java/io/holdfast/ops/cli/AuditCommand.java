package io.holdfast.ops.cli;

import io.holdfast.client.AuditRecord;
import io.holdfast.client.HoldfastClient;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "audit", mixinStandardHelpOptions = true,
    description = "The audit log: expiries, admin expiries, incarnation takeovers, revocations and max-hold "
        + "revocations, with the former holder, its token, the reason and who asked.",
    footer = {"", "Example:", "  holdfast audit --since 1h", "  holdfast audit --lock fleet/config --follow"})
public final class AuditCommand implements Callable<Integer> {
  @Mixin
  ClusterOptions cluster;

  @Option(names = "--since", converter = Durations.class, description = "only entries newer than this (e.g. 30m)")
  Duration since;

  @Option(names = "--lock", description = "only entries about this lock")
  String lock = "";

  @Option(names = "--limit", description = "at most this many (newest; default 100); with --since, a note on "
      + "stderr says when more entries fall in that time")
  int limit = 100;

  @Option(names = {"-f", "--follow"}, description = "keep printing new entries until interrupted")
  boolean follow;

  @Spec
  CommandSpec spec;

  /** What one poll of --follow reads at most. */
  private static final int FOLLOW_PAGE = 1_000;
  /** How many entries the cluster's audit log keeps, and the most one read returns. */
  private static final int KEPT = 1_000;

  @Override
  public Integer call() throws InterruptedException {
    if (limit < 0 || limit > KEPT) {
      throw new IllegalArgumentException("--limit must be between 0 (default 100) and " + KEPT + ", got " + limit);
    }
    PrintWriter out = spec.commandLine().getOut();
    try (HoldfastClient client = cluster.client("holdfast-cli")) {
      // With --since, everything the cluster keeps (one read: it keeps no more than one returns),
      // cut at the time: the newest --limit alone could end inside the window and drop the rest
      // without a word.
      List<AuditRecord> all = client.admin().audit(0, lock, since == null ? limit : KEPT);
      List<AuditRecord> shown = filter(all);
      int most = limit == 0 ? 100 : limit;
      if (since != null && shown.size() > most) {
        note(shown.size() + " entries in the last " + Durations.format(since) + "; showing the newest " + most
            + " (--limit " + Math.min(shown.size(), KEPT) + " shows them all)");
        shown = shown.subList(shown.size() - most, shown.size());
      }
      if (since != null && all.size() == KEPT && filter(all).size() == KEPT) {
        note("the cluster keeps its newest " + KEPT + " entries, all of them in the last " + Durations.format(since)
            + ": older ones from that time have left its audit log");
      }
      print(out, shown, true);
      // Follow from the newest entry read, printed or not: --since must not let older ones through.
      long last = all.isEmpty() ? 0 : all.get(all.size() - 1).index();
      boolean behind = false;
      while (follow) {
        // PrintWriter and System.out swallow a broken pipe (`audit -f | grep -m1 ...`): without
        // this check the command would poll for ever after its reader has gone.
        if (out.checkError() || System.out.checkError()) {
          return ExitCodes.OK;
        }
        if (!behind) {
          Thread.sleep(1_000);
        }
        List<AuditRecord> more = client.admin().audit(last, lock, FOLLOW_PAGE);
        if (more.size() == FOLLOW_PAGE) {
          // As many as the cluster's audit log keeps: older ones may have left it unread.
          spec.commandLine().getErr().println("holdfast audit: " + FOLLOW_PAGE + " new entries at once, as many as the "
              + "cluster keeps: older ones may have been dropped from its audit log before they were read");
          spec.commandLine().getErr().flush();
        }
        behind = more.size() == FOLLOW_PAGE; // read on at once
        print(out, more, false);
        if (!more.isEmpty()) {
          last = more.get(more.size() - 1).index();
        }
      }
      return ExitCodes.OK;
    }
  }

  private void note(String message) {
    spec.commandLine().getErr().println("holdfast audit: " + message);
    spec.commandLine().getErr().flush();
  }

  private List<AuditRecord> filter(List<AuditRecord> all) {
    if (since == null) {
      return all;
    }
    Instant cutoff = Instant.now().minus(since);
    return all.stream().filter(a -> a.time() != null && a.time().isAfter(cutoff)).toList();
  }

  private void print(PrintWriter out, List<AuditRecord> entries, boolean first) {
    if (cluster.json()) {
      if (follow) {
        // One object per line, as watch prints them: a stream for line-reading scripts.
        entries.forEach(a -> out.println(Rendering.compactJson(Rendering.auditJson(a))));
      } else {
        Output.json(out, entries.stream().map(Rendering::auditJson).toList());
      }
    } else if (first || !entries.isEmpty()) {
      List<List<String>> rows = entries.stream().map(Rendering::auditRow).toList();
      if (first) {
        Output.table(out, Rendering.AUDIT_HEADER, rows);
      } else {
        // Names, hosts and reasons come from clients: no control characters reach the terminal.
        rows.forEach(r -> out.println(String.join("  ", r.stream().map(Output::cell).toList())));
      }
    }
    out.flush();
  }
}
