package io.holdfast.ops.cli;

import io.holdfast.client.AuditRecord;
import io.holdfast.client.HoldfastClient;
import io.holdfast.client.LockDescription;
import io.holdfast.client.LockLease;
import io.holdfast.client.LockLostException;
import io.holdfast.client.LockOptions;
import io.holdfast.client.Session;
import io.holdfast.client.SessionExpiredException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "lock", mixinStandardHelpOptions = true, description = "Look at one lock, or hold one while a command runs.",
    subcommands = {LockCommand.Show.class, LockCommand.Run.class},
    footer = {"", "Examples:", "  holdfast lock show fleet/config", "  holdfast lock run fleet/config -- ./apply-config.sh"})
public final class LockCommand {

  @Command(name = "show", mixinStandardHelpOptions = true,
      description = "Everything about one lock: state, holder, token, TTL left, waiters, recent audit entries.",
      footer = {"", "Example:", "  holdfast lock show fleet/config -o json"})
  static final class Show implements Callable<Integer> {
    @Mixin
    ClusterOptions cluster;

    @Parameters(paramLabel = "NAME")
    String name;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
      try (HoldfastClient client = cluster.client("holdfast-cli")) {
        LockDescription l = client.admin().lock(name);
        List<AuditRecord> audit = client.admin().audit(0, name, 10);
        PrintWriter out = spec.commandLine().getOut();
        if (cluster.json()) {
          Map<String, Object> doc = new LinkedHashMap<>(Rendering.lockJson(l));
          doc.put("audit", audit.stream().map(Rendering::auditJson).toList());
          Output.json(out, doc);
          return ExitCodes.OK;
        }
        Output.table(out, Rendering.LOCK_HEADER, List.of(Rendering.lockRow(l)));
        if (l.lockDelay().toMillis() > 0 || l.maxHold().toMillis() > 0) {
          out.println("lock-delay " + Durations.format(l.lockDelay()) + ", max hold "
              + (l.maxHold().isZero() ? "none" : Durations.format(l.maxHold())));
        }
        if (!l.waiters().isEmpty()) {
          out.println();
          out.println("waiters (first in line first):");
          List<List<String>> rows = new ArrayList<>();
          int i = 1;
          for (LockDescription.Waiter w : l.waiters()) {
            rows.add(List.of(Integer.toString(i++), Long.toString(w.sessionId()), Rendering.who(w.clientName(), w.host(),
                w.pid()), Rendering.since(w.queuedAt())));
          }
          Output.table(out, List.of("#", "SESSION", "CLIENT", "WAITING FOR"), rows);
        }
        if (!audit.isEmpty()) {
          out.println();
          out.println("recent audit entries:");
          Output.table(out, Rendering.AUDIT_HEADER, audit.stream().map(Rendering::auditRow).toList());
        }
        out.flush();
        return ExitCodes.OK;
      }
    }
  }

  @Command(name = "run", mixinStandardHelpOptions = true,
      description = {"Holds a lock while a command runs. The command gets HOLDFAST_LOCK, HOLDFAST_FENCING_TOKEN "
          + "and HOLDFAST_SESSION_ID in its environment; hand the token to whatever it writes.",
          "The command goes after -- (required): its own options are its own."},
      footer = {"", "Exit codes:",
          "  the command's  it ran, holding the lock to the end",
          "  75             the lock was not acquired (not granted within --wait,",
          "                 this process's session ended while it waited, or the",
          "                 grant came after the session's deadline): the command",
          "                 did not run, and trying again is safe.",
          "                 --conflict-exit-code changes it",
          "  4              the lock was lost while the command ran (this process",
          "                 was paused or cut off past its TTL, or the lock was",
          "                 revoked): the command got SIGTERM, then SIGKILL after",
          "                 --grace",
          "  127            the command could not be started (not found, not executable)",
          "  1              the cluster could not be reached, or processes the",
          "                 command left running would not stop (the lock is left",
          "                 to the TTL)",
          "  2              bad arguments",
          "", "Example:", "  holdfast lock run fleet/config --ttl 10s --wait 1m --lock-delay 15s -- ./apply-config.sh"})
  static final class Run implements Callable<Integer> {
    /**
     * "Not acquired, nothing ran": sysexits' EX_TEMPFAIL, which scripts rarely use for their own
     * failures, so a wrapper can tell a busy lock (retry) from a command that ran and failed.
     */
    static final int DEFAULT_CONFLICT_EXIT_CODE = 75;
    /** As a shell says when it cannot run a command. */
    static final int CANNOT_START = 127;

    @Mixin
    ClusterOptions cluster;

    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @Parameters(index = "1..*", paramLabel = "COMMAND", arity = "1..*", description = "the command, after -- (required)")
    List<String> command;

    @Option(names = "--ttl", converter = Durations.class, description = "session TTL (default 10s)")
    Duration ttl = Duration.ofSeconds(10);

    @Option(names = "--wait", converter = Durations.class, description = "how long to wait for the lock (default: until granted)")
    Duration wait;

    @Option(names = "--lock-delay", converter = Durations.class,
        description = "keep the lock ORPHANED this long if this process dies holding it (default: the server's)")
    Duration lockDelay;

    @Option(names = "--max-hold", converter = Durations.class, description = "the cluster revokes the lock after this long")
    Duration maxHold = Duration.ZERO;

    @Option(names = "--grace", converter = Durations.class, description = "SIGTERM to SIGKILL (default 10s)")
    Duration grace = Duration.ofSeconds(10);

    @Option(names = {"-E", "--conflict-exit-code"}, paramLabel = "N",
        description = "exit code when the lock is not acquired and the command did not run (1-255; default "
            + DEFAULT_CONFLICT_EXIT_CODE + ", EX_TEMPFAIL; 1 was the code before this option existed)")
    int conflictExitCode = DEFAULT_CONFLICT_EXIT_CODE;

    /** The processes the command started, as seen while it ran (see run). */
    private final java.util.Set<ProcessHandle> started = java.util.concurrent.ConcurrentHashMap.newKeySet();

    @Option(names = "--client-name", description = "shown as the holder (default: holdfast-lock-run)")
    String clientName = "holdfast-lock-run";

    @Spec
    CommandSpec spec;

    /**
     * Processes of the command would not stop: the session is not closed (which would let the lock
     * go at once) but left to run out, and the lock then stays orphaned for its lock-delay.
     */
    private volatile boolean leaveToTtl;

    @Override
    public Integer call() throws Exception {
      requireDoubleDash();
      if (conflictExitCode < 1 || conflictExitCode > 255) {
        throw new IllegalArgumentException("--conflict-exit-code must be between 1 and 255, got " + conflictExitCode);
      }
      PrintWriter err = spec.commandLine().getErr();
      HoldfastClient client = cluster.client(clientName);
      try {
        Session session = client.newSession(ttl);
        Stop stop = new Stop(session);
        // Registered before the lock is asked for: a signal at any point lets it go cleanly.
        Runtime.getRuntime().addShutdownHook(stop.thread);
        try {
          return run(session, stop, err);
        } finally {
          try {
            Runtime.getRuntime().removeShutdownHook(stop.thread);
          } catch (IllegalStateException shuttingDown) {
            // The hook is running: it releases, and the client must stay open until it has.
            stop.awaitDone(grace.toMillis() + 15_000);
          }
        }
      } finally {
        if (!leaveToTtl) {
          client.close();
        }
      }
    }

    /**
     * The command must follow {@code --}: without it, its own options (--timeout, -o, even --help)
     * would be taken for this command's and silently change what it does, or print help and exit 0
     * without running anything.
     */
    private void requireDoubleDash() {
      List<String> args = spec.commandLine().getParseResult().originalArgs();
      int dash = args.indexOf("--");
      if (dash < 0 || !args.subList(dash + 1, args.size()).equals(command)) {
        throw new IllegalArgumentException("put -- between the options and the command: holdfast lock run NAME "
            + "[OPTIONS] -- COMMAND [ARGS...] (without it the command's own options are read as this one's)");
      }
    }

    private int run(Session session, Stop stop, PrintWriter err) throws Exception {
      LockOptions options = new LockOptions(wait, lockDelay, maxHold);
      Optional<LockLease> got;
      try {
        got = session.lockAsync(name, options).get();
      } catch (ExecutionException e) {
        if (e.getCause() instanceof SessionExpiredException ended) {
          // Expired (or ended by an operator) while queued: the lock was never this process's and
          // nothing ran, the same outcome as a busy lock, not "not found" (3).
          err.println("holdfast lock run: lock '" + name + "' not acquired: " + ended.getMessage()
              + " while it waited; the command did not run");
          err.flush();
          return conflictExitCode;
        }
        throw e.getCause() instanceof Exception x ? x : e;
      }
      if (got.isEmpty()) {
        err.println("holdfast lock run: lock '" + name + "' not acquired within " + Durations.format(wait)
            + "; the command did not run");
        err.flush();
        session.close();
        return conflictExitCode;
      }
      LockLease lease = got.get();
      err.println("holdfast lock run: holding '" + name + "' with fencing token " + lease.token() + " (session "
          + session.id() + ")");
      err.flush();
      ProcessBuilder pb = new ProcessBuilder(command).inheritIO();
      pb.environment().put("HOLDFAST_LOCK", name);
      pb.environment().put("HOLDFAST_FENCING_TOKEN", Long.toString(lease.token()));
      pb.environment().put("HOLDFAST_SESSION_ID", Long.toString(session.id()));
      if (!lease.isValid()) {
        // Granted as the session's deadline passed (a long pause, keepalives unanswered): the
        // command never starts on a lease that is no longer good.
        err.println("holdfast lock run: lock '" + name + "' lost before the command started (session " + session.id()
            + " is " + session.state() + "); the command did not run");
        err.flush();
        session.close(); // nothing ran under it
        return conflictExitCode; // as for an expiry while queued: which one it is depends on timing
      }
      Process child;
      try {
        child = stop.start(pb);
      } catch (java.io.IOException e) {
        err.println("holdfast lock run: cannot start " + command.get(0) + ": " + e.getMessage());
        err.flush();
        session.close(); // nothing ran under it
        return CANNOT_START;
      }
      if (child == null) {
        return ExitCodes.FAILED; // stopped before the command started
      }
      while (!child.waitFor(50, TimeUnit.MILLISECONDS)) {
        // Every process the command started, as it goes: one left running when the command
        // exits (a background job) is re-parented then, and could no longer be found.
        started.removeIf(h -> !h.isAlive()); // a pid of one that ended may be another process's by now
        child.descendants().forEach(started::add);
        if (!lease.isValid()) {
          err.println("holdfast lock run: lock '" + name + "' lost (session " + session.id() + " is "
              + session.state() + "); stopping the command");
          err.flush();
          if (terminate(child)) {
            // Nothing of the command runs: whatever the cluster still holds for the session may go.
            session.close();
          } else {
            leaveToTtl = true;
          }
          return ExitCodes.LOCK_LOST;
        }
      }
      int code = child.exitValue();
      if (stop.stopping()) {
        return code; // the shutdown hook releases
      }
      List<ProcessHandle> left = started.stream().filter(ProcessHandle::isAlive).toList();
      if (!left.isEmpty()) {
        // Still part of the command, and maybe still writing: stopped before the lock goes.
        err.println("holdfast lock run: the command exited and left " + left.size() + " process(es) running "
            + left.stream().map(h -> Long.toString(h.pid())).toList() + "; stopping them before releasing '" + name + "'");
        err.flush();
        if (!terminate(left)) {
          leaveToTtl = true;
          err.println("holdfast lock run: some of them would not stop; the lock is left to the session's TTL");
          err.flush();
          return ExitCodes.FAILED;
        }
      }
      try {
        lease.close();
        session.close();
      } catch (LockLostException e) {
        err.println("holdfast lock run: the command finished but the lock had been lost: " + e.getMessage());
        err.flush();
        return ExitCodes.LOCK_LOST;
      } catch (RuntimeException e) {
        // The command ran to its end under the lock: its code is the outcome. The lock goes when the
        // session's TTL runs out; a 1 here would read as the command's own failure.
        err.println("holdfast lock run: the command exited " + code + "; releasing '" + name + "' failed ("
            + e.getMessage() + "): it is freed when session " + session.id() + "'s TTL runs out");
        err.flush();
      }
      return code;
    }

    /**
     * Ctrl-C or SIGTERM: stops the command and what it started, then, once none of them runs, lets
     * the lock go cleanly instead of leaving it held until the TTL runs out and then orphaned for
     * its lock-delay.
     */
    private final class Stop {
      final Thread thread = new Thread(this::stop, "holdfast-lock-run-stop");
      private final Session session;
      private final java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
      private Process child;
      private boolean stopping;

      Stop(Session session) {
        this.session = session;
      }

      /** Starts the command, unless a stop came first (then null: its lock is being let go). */
      synchronized Process start(ProcessBuilder pb) throws java.io.IOException {
        if (stopping) {
          return null;
        }
        child = pb.start();
        return child;
      }

      synchronized boolean stopping() {
        return stopping;
      }

      private void stop() {
        Process c;
        synchronized (this) {
          stopping = true;
          c = child;
        }
        try {
          // Only once nothing of the command runs: a shell's children outlive it when it alone
          // gets the signal, and they may still be writing. Otherwise the TTL and the lock-delay
          // keep the next holder out.
          if (c == null || terminate(c)) {
            session.close();
          } else {
            leaveToTtl = true;
          }
        } catch (RuntimeException e) {
          // unreachable cluster: the session's TTL ends it
        } finally {
          done.countDown();
        }
      }

      void awaitDone(long ms) throws InterruptedException {
        done.await(ms, TimeUnit.MILLISECONDS);
      }
    }

    /**
     * Stops the command and everything it started: SIGTERM to each, SIGKILL to what is left after
     * {@code --grace}. True if none of them runs any more.
     */
    private boolean terminate(Process child) {
      // Taken before the command dies: its children are re-parented then, and no longer listed.
      List<ProcessHandle> tree = new ArrayList<>(child.descendants().toList());
      started.stream().filter(ProcessHandle::isAlive).forEach(tree::add);
      tree.add(child.toHandle());
      return terminate(tree);
    }

    /** As above, for these processes and whatever they start meanwhile. */
    private boolean terminate(List<ProcessHandle> processes) {
      java.util.Set<ProcessHandle> tree = new java.util.LinkedHashSet<>(processes);
      tree.forEach(ProcessHandle::destroy);
      long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(grace.toMillis());
      try {
        while (tree.stream().anyMatch(ProcessHandle::isAlive) && System.nanoTime() < end) {
          // A TERM trap that starts a clean-up, a supervisor restarting its workers: those too.
          // Only from live ones (isAlive checks the start time): a pid of one that ended may be
          // another process's by now, and its children are not the command's.
          for (ProcessHandle h : List.copyOf(tree)) {
            if (h.isAlive()) {
              h.descendants().filter(tree::add).forEach(ProcessHandle::destroy);
            }
          }
          Thread.sleep(20);
        }
        tree.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
        end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (tree.stream().anyMatch(ProcessHandle::isAlive) && System.nanoTime() < end) {
          Thread.sleep(20);
        }
      } catch (InterruptedException e) {
        tree.forEach(ProcessHandle::destroyForcibly);
        Thread.currentThread().interrupt();
      }
      return tree.stream().noneMatch(ProcessHandle::isAlive);
    }
  }
}
