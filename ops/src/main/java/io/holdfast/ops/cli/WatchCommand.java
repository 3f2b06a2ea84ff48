package io.holdfast.ops.cli;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.Watch;
import io.holdfast.client.WatchBatch;
import io.holdfast.client.WatchEvent;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "watch", mixinStandardHelpOptions = true,
    description = "Prints lock and key events under PREFIX as the cluster applies them (acquired, released and "
        + "why, put, deleted), each with its revision, starting with the current state; resumes by itself "
        + "across failovers. With -o json, one JSON object per line.",
    footer = {"", "Example:", "  holdfast watch fleet/", "  holdfast watch fleet/ --after 81234 -o json"})
public final class WatchCommand implements Callable<Integer> {
  @Mixin
  ClusterOptions cluster;

  @Parameters(arity = "0..1", paramLabel = "PREFIX", description = "lock and key names under it (default: all)")
  String prefix = "";

  @Option(names = "--after", description = "resume after this revision instead of starting with the current state")
  long after;

  @Option(names = "--for", converter = Durations.class, description = "stop after this long (default: until Ctrl-C)")
  Duration duration;

  @Spec
  CommandSpec spec;

  /** Completed once stdout is gone (`holdfast watch ... | head`): nobody reads any more. */
  private final java.util.concurrent.CompletableFuture<Object> outputClosed =
      new java.util.concurrent.CompletableFuture<>();

  @Override
  public Integer call() throws InterruptedException {
    PrintWriter out = spec.commandLine().getOut();
    try (HoldfastClient client = cluster.client("holdfast-cli")) {
      requireAnEndpoint(client);
      return watch(client, out);
    }
  }

  /**
   * A watch retries an unreachable cluster for ever, silently: first make sure that some endpoint
   * answers (reachable, same TLS), or fail within --timeout saying which; refused credentials fail at once.
   */
  private void requireAnEndpoint(HoldfastClient client) throws InterruptedException {
    long end = System.nanoTime() + cluster.timeout.toNanos();
    RuntimeException last = null;
    while (true) {
      for (String endpoint : cluster.endpointList()) {
        long left = Math.max(1, TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime()));
        try {
          client.admin().memberStatus(endpoint, Duration.ofMillis(Math.min(2_000, left)));
          return;
        } catch (io.holdfast.client.PermissionDeniedException refused) {
          throw refused; // it answered: no retry changes the credentials
        } catch (io.holdfast.client.HoldfastException | io.grpc.StatusRuntimeException e) {
          last = e;
        }
      }
      if (System.nanoTime() - end >= 0) {
        throw new io.holdfast.client.ClusterUnavailableException("no endpoint answered within " + cluster.timeout
            .toSeconds() + " s (" + String.join(", ", cluster.endpointList()) + "): " + last.getMessage(), last);
      }
      Thread.sleep(200);
    }
  }

  private int watch(HoldfastClient client, PrintWriter out) throws InterruptedException {
    try (Watch watch = client.watch(List.of(prefix), List.of(prefix), after, b -> print(out, b))) {
      try {
        var done = java.util.concurrent.CompletableFuture.anyOf(watch.ended(), outputClosed);
        if (duration == null) {
          done.get();
        } else {
          done.get(duration.toMillis(), TimeUnit.MILLISECONDS);
        }
      } catch (java.util.concurrent.TimeoutException forAsLongAsAsked) {
        // --for ran out
      } catch (java.util.concurrent.ExecutionException refused) {
        // A refusal no retry changes (no permission, a bad --after): say so, or it would wait forever.
        out.flush();
        throw refused.getCause() instanceof RuntimeException r ? r : new IllegalStateException(refused.getCause());
      }
      out.flush();
      return ExitCodes.OK;
    }
  }

  private synchronized void print(PrintWriter out, WatchBatch b) {
    for (WatchEvent e : b.events()) {
      if (cluster.json()) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("index", b.index());
        m.put("snapshot", b.snapshot());
        m.put("kind", e.kind().name());
        m.put("lock", e.lockName());
        m.put("key", e.key());
        m.put("session_id", e.sessionId());
        m.put("token", e.kind() == WatchEvent.Kind.KEY_PUT && e.kv() != null ? e.kv().fenceToken() : e.token());
        m.put("reason", e.reason());
        if (e.kv() != null) {
          m.put("revision", e.kv().revision());
          m.put("size", e.kv().value().length);
          m.put("fence_lock", e.kv().fenceLock());
        }
        out.println(Rendering.compactJson(m));
      } else {
        String what = switch (e.kind()) {
          case LOCK_ACQUIRED -> "ACQUIRED  " + e.lockName() + " session " + e.sessionId() + " token " + e.token();
          case LOCK_RELEASED -> "RELEASED  " + e.lockName() + " session " + e.sessionId() + " token " + e.token()
              + " (" + e.reason() + ")";
          case KEY_PUT -> e.kv() == null ? "PUT       " + e.key() : "PUT       " + e.key() + " revision " + e.kv().revision() + ", " + e.kv().value().length
              + " bytes" + (e.kv().fenceLock().isEmpty() ? "" : ", fenced by " + e.kv().fenceLock() + " token "
              + e.kv().fenceToken());
          case KEY_DELETED -> "DELETED   " + e.key();
        };
        out.println((b.snapshot() ? "(now) " : "") + b.index() + "  " + Output.cell(what));
      }
    }
    out.flush();
    // PrintWriter and System.out swallow a broken pipe; without this check the command would run
    // forever. (System.out is where the CLI's writer ends up when run from a shell.)
    if (out.checkError() || System.out.checkError()) {
      outputClosed.complete(null);
    }
  }
}
