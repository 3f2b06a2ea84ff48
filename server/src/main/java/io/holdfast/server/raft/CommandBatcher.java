package io.holdfast.server.raft;

import io.holdfast.server.state.Command;
import io.holdfast.server.state.Result;
import io.holdfast.server.statemachine.CommandCodec;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Coalesces the commands that arrive while earlier entries are being replicated into one Raft
 * entry (group commit). Each entry costs the leader and every follower a Ratis request, a log
 * write, an AppendEntries slot and an apply call whatever it holds, and on two shared cores that
 * fixed cost, not the disk, is what limits throughput.
 *
 * <p>A command that finds fewer than {@code inFlight} entries under way goes out at once, alone:
 * batching never delays a lone caller. Otherwise it waits for the next entry, which takes every
 * command queued by then (up to {@code maxCommands}, and {@link #MAX_BATCH_BYTES} as encoded: values
 * and labels can be large, and a Ratis entry has to fit its appender buffer). One sender at a time hands entries to Ratis,
 * in queue order, so commands keep the order in which they were submitted.
 *
 * <p>An urgent command (a release that hands a lock to a waiter) may open one entry beyond
 * {@code inFlight}: a hand-off waits on it, and behind a full pipe it would wait a whole commit
 * for a slot. It still goes out with everything queued before it, so order is kept.
 *
 * <p>With a linger, an entry of several commands that completes starts a hold: the queue waits,
 * up to the linger, until as many commands again have joined it (the callers of that entry,
 * answered now, mostly send their next ones at once), then goes out as one entry. Without it,
 * callers answered by one entry queue behind the next and the load splits into two alternating
 * halves, each paying an entry's whole cost. A hand-over ends a hold at once. A hold that sees
 * fewer than half the expected commands come is a miss, and misses in a row skip the next 2, 4, ..
 * 64 chances to hold, so callers that do not come back (independent agents) do not pay the wait.
 *
 * <p>A deferrable command (an acquire that will queue behind other waiters whatever happens) does
 * not open an entry of its own while the linger lasts from its arrival: it waits for company, and
 * goes out with the next command that must, or when its linger is over. Its caller waits for the
 * lock anyway, and on a contended lock the hand-over release that comes next then carries it,
 * instead of queueing behind an entry of acquires (one entry per hand-over instead of about 1.4).
 */
final class CommandBatcher {
  /** Roughly what one entry may hold; a single larger command still goes out, alone. */
  static final long MAX_BATCH_BYTES = 1 << 20;

  private final Function<Command, CompletableFuture<Result>> replicate;
  private final Executor pumpExecutor;
  private final int maxCommands;
  private final int inFlight;
  private final Predicate<Command> urgent;
  private final Predicate<Command> deferrable;
  private final long lingerNanos;
  private final Scheduler scheduler;
  private final ArrayDeque<Pending> queue = new ArrayDeque<>();
  // What may wait here at most (see limitQueue); the bytes as encoded.
  private int maxQueued = Integer.MAX_VALUE;
  private long maxQueuedBytes = Long.MAX_VALUE;
  private Predicate<Command> exempt = c -> true;
  private long queuedBytes;
  private final BatchStats stats;
  private int entriesInFlight;
  // Queued commands that may open the extra entry.
  private int urgentQueued;
  // Queued commands that may wait for company, and whether a timer will look at them again.
  private int deferrableQueued;
  private boolean deferTimerArmed;
  // Set once the node is closing: its timers are gone, so nothing queued now would ever go out.
  private boolean closed;
  private boolean sending;
  // Holding the queue after an entry of several completed, until its callers' next commands join.
  private boolean holding;
  private int holdTarget;
  private int holdExpected;
  private int holdQueuedAtStart;
  private long holdUntilNanos;
  // Holds that fail (the callers did not come back in time) are skipped for a while, doubling.
  private int missStreak;
  private int holdsToSkip;

  /** Where the entries that went out, and the holds, are counted (metrics). */
  interface BatchStats {
    void sent(int commands);

    default void holdEnded(HoldOutcome outcome, long heldNanos) {
    }
  }

  /** The clock a hold is timed on, and the timer that ends it. */
  interface Scheduler {
    long nanoTime();

    void schedule(Runnable task, long delayNanos);
  }

  /** The most holds skipped after a run of failed ones. */
  static final int MAX_HOLDS_SKIPPED = 64;

  private record Pending(Command command, long bytes, boolean urgent, boolean deferrable, long queuedAtNanos,
      CompletableFuture<Result> result) {}

  /**
   * {@code replicate} sends one command (a {@link Command.Batch} for several) and completes with
   * its result; {@code pumpExecutor} sends the next entry when one completes, so that Ratis's
   * reply thread is never the one that proposes. {@code urgent} is asked once per command, on the
   * submitting thread.
   */
  CommandBatcher(Function<Command, CompletableFuture<Result>> replicate, Executor pumpExecutor, int maxCommands,
      int inFlight, Predicate<Command> urgent, BatchStats stats) {
    this(replicate, pumpExecutor, maxCommands, inFlight, urgent, stats, 0, null);
  }

  CommandBatcher(Function<Command, CompletableFuture<Result>> replicate, Executor pumpExecutor, int maxCommands,
      int inFlight, Predicate<Command> urgent, BatchStats stats, long lingerNanos, Scheduler scheduler) {
    this(replicate, pumpExecutor, maxCommands, inFlight, urgent, c -> false, stats, lingerNanos, scheduler);
  }

  /**
   * {@code deferrable} is asked once per command, on the submitting thread, and only with a linger:
   * a command it accepts waits up to the linger from its arrival for another to go out with.
   */
  CommandBatcher(Function<Command, CompletableFuture<Result>> replicate, Executor pumpExecutor, int maxCommands,
      int inFlight, Predicate<Command> urgent, Predicate<Command> deferrable, BatchStats stats, long lingerNanos,
      Scheduler scheduler) {
    if (maxCommands < 1 || inFlight < 1) {
      throw new IllegalArgumentException("maxCommands and inFlight must be positive");
    }
    if (lingerNanos < 0 || (lingerNanos > 0 && scheduler == null)) {
      throw new IllegalArgumentException("a linger needs a scheduler, and cannot be negative");
    }
    this.lingerNanos = lingerNanos;
    this.scheduler = scheduler;
    this.replicate = replicate;
    this.pumpExecutor = pumpExecutor;
    this.maxCommands = maxCommands;
    this.inFlight = inFlight;
    this.urgent = urgent;
    this.deferrable = deferrable;
    this.stats = stats;
  }

  /**
   * Bounds what waits for the log: past {@code commands} queued, or {@code bytes} as encoded, a
   * command is refused at once as busy (nothing was logged: retryable). Only one entry goes to
   * Ratis at a time, so Ratis's own pending limits never see a flood, and the leader's heap would
   * hold it all. Commands {@code exempt} accepts (the leader's own keepalive checkpoints and
   * expiries) are always queued: a flood must not cost live sessions their renewals.
   */
  synchronized CommandBatcher limitQueue(int commands, long bytes, Predicate<Command> exempt) {
    if (commands < 1 || bytes < 1) {
      throw new IllegalArgumentException("queue limits must be positive");
    }
    this.maxQueued = commands;
    this.maxQueuedBytes = bytes;
    this.exempt = exempt;
    return this;
  }

  CompletableFuture<Result> submit(Command command) {
    // Measured on the caller's thread: the byte cap must hold for every kind of command (a batch
    // of session opens with large labels once made an entry larger than Ratis's buffers).
    boolean isUrgent = urgent.test(command);
    boolean defer = !isUrgent && lingerNanos > 0 && deferrable.test(command);
    Pending p = new Pending(command, CommandCodec.entryBytes(command), isUrgent, defer,
        scheduler != null ? scheduler.nanoTime() : 0, new CompletableFuture<>());
    synchronized (this) {
      if (closed) {
        p.result().completeExceptionally(shuttingDown());
        return p.result();
      }
      if (!queue.isEmpty() && (queue.size() >= maxQueued || queuedBytes + p.bytes() > maxQueuedBytes)
          && !exempt.test(command)) {
        p.result().completeExceptionally(new RaftCallException(io.holdfast.server.state.ErrorCode.BUSY, null,
            "this leader is busy: " + queue.size() + " commands (" + queuedBytes + " bytes) wait for the log already; "
            + "nothing was logged, retry"));
        return p.result();
      }
      queue.addLast(p);
      queuedBytes += p.bytes();
      if (p.urgent()) {
        urgentQueued++;
      }
      if (p.deferrable()) {
        deferrableQueued++;
      }
    }
    pump();
    return p.result();
  }

  /** Sends entries while there is room in flight and something queued. */
  private void pump() {
    while (true) {
      List<Pending> batch;
      long lookAgainIn = 0;
      synchronized (this) {
        if (sending || !roomInFlight() || (holding && !endHold()) || queue.isEmpty()) {
          return;
        }
        long wait = deferFor();
        if (wait > 0) {
          if (deferTimerArmed) {
            return;
          }
          deferTimerArmed = true;
          lookAgainIn = wait;
          batch = null;
        } else {
          batch = take();
        }
      }
      if (batch == null) {
        schedule(this::deferralOver, lookAgainIn);
        return;
      }
      CompletableFuture<Result> sent;
      try {
        sent = replicate.apply(batch.size() == 1 ? batch.get(0).command()
            : new Command.Batch(batch.stream().map(Pending::command).toList()));
      } catch (RuntimeException e) {
        sent = CompletableFuture.failedFuture(e);
      } finally {
        synchronized (this) {
          sending = false;
        }
      }
      if (stats != null) {
        stats.sent(batch.size());
      }
      sent.whenComplete((result, error) -> finished(batch, result, error));
    }
  }

  /** Takes the next entry's commands off the queue; under the lock. */
  private List<Pending> take() {
    List<Pending> batch = new ArrayList<>(Math.min(queue.size(), maxCommands));
    long bytes = 0;
    while (!queue.isEmpty() && batch.size() < maxCommands) {
      long next = queue.peekFirst().bytes();
      if (!batch.isEmpty() && bytes + next > MAX_BATCH_BYTES) {
        break;
      }
      bytes += next;
      Pending taken = queue.pollFirst();
      queuedBytes -= taken.bytes();
      if (taken.urgent()) {
        urgentQueued--;
      }
      if (taken.deferrable()) {
        deferrableQueued--;
      }
      batch.add(taken);
    }
    entriesInFlight++;
    sending = true;
    return batch;
  }

  /**
   * How long the queue may still wait for company, in nanoseconds (0: send now). Only while every
   * queued command is deferrable, and until the linger since the oldest one's arrival is over.
   */
  private long deferFor() {
    if (deferrableQueued < queue.size()) {
      return 0;
    }
    long left = queue.peekFirst().queuedAtNanos() + lingerNanos - scheduler.nanoTime();
    return Math.max(0, left);
  }

  private void deferralOver() {
    synchronized (this) {
      deferTimerArmed = false;
    }
    pump();
  }

  private void schedule(Runnable task, long delayNanos) {
    try {
      scheduler.schedule(task, delayNanos);
    } catch (java.util.concurrent.RejectedExecutionException closing) {
      shutDown();
    }
  }

  /** Whether the hold is over (its callers came back, its time ran out, or a hand-off waits). */
  private boolean endHold() {
    boolean full = queue.size() >= holdTarget;
    if (!full && urgentQueued == 0 && scheduler.nanoTime() - holdUntilNanos < 0) {
      return false;
    }
    holding = false;
    boolean half = 2 * (queue.size() - holdQueuedAtStart) >= holdExpected;
    if (full || half) {
      missStreak = 0;
    } else if (urgentQueued == 0) {
      missStreak++;
      holdsToSkip = Math.min(MAX_HOLDS_SKIPPED, 1 << Math.min(missStreak, 6));
    }
    HoldOutcome outcome = full ? HoldOutcome.FILLED
        : urgentQueued > 0 ? HoldOutcome.HANDED_OVER
        : half ? HoldOutcome.PARTIAL
        : HoldOutcome.MISSED;
    if (stats != null) {
      stats.holdEnded(outcome, scheduler.nanoTime() - (holdUntilNanos - lingerNanos));
    }
    return true;
  }

  private boolean roomInFlight() {
    return entriesInFlight < inFlight || (entriesInFlight == inFlight && urgentQueued > 0);
  }

  private void finished(List<Pending> batch, Result result, Throwable error) {
    boolean more;
    boolean hold = false;
    synchronized (this) {
      entriesInFlight--;
      more = !queue.isEmpty();
      // Under load the callers of an entry of several send their next commands as soon as they
      // hear back; held for them, the commands queued meanwhile share one entry with theirs
      // instead of taking one of their own, and every entry costs each node the same work.
      // A queue that already fills an entry has nobody to wait for.
      if (lingerNanos > 0 && error == null && batch.size() > 1 && urgentQueued == 0
          && entriesInFlight < inFlight && !holding && queue.size() < maxCommands) {
        if (holdsToSkip > 0) {
          holdsToSkip--;
        } else {
          holding = true;
          holdExpected = batch.size();
          holdQueuedAtStart = queue.size();
          holdTarget = Math.min(maxCommands, queue.size() + batch.size());
          holdUntilNanos = scheduler.nanoTime() + lingerNanos;
          hold = true;
        }
      }
    }
    // Queued commands go out before the callers hear back: their entry is on its way sooner.
    if (more || hold) {
      try {
        if (hold) {
          scheduler.schedule(this::pump, lingerNanos);
        } else {
          pumpExecutor.execute(this::pump);
        }
      } catch (java.util.concurrent.RejectedExecutionException closing) {
        shutDown();
      }
    }
    if (error != null) {
      batch.forEach(p -> p.result().completeExceptionally(error));
    } else if (batch.size() == 1) {
      batch.get(0).result().complete(result);
    } else if (result instanceof Result.Batch b && b.results().size() == batch.size()) {
      for (int i = 0; i < batch.size(); i++) {
        batch.get(i).result().complete(b.results().get(i));
      }
    } else {
      IllegalStateException bad = new IllegalStateException("a batch of " + batch.size()
          + " commands was answered with " + result);
      batch.forEach(p -> p.result().completeExceptionally(bad));
    }
  }

  /** Fails what is still queued (a hold's timer dies with the node): called once the node is closed. */
  void shutDown() {
    failQueued(shuttingDown());
  }

  private static RaftCallException shuttingDown() {
    return new RaftCallException(io.holdfast.server.state.ErrorCode.NO_LEADER, null, "this node is shutting down");
  }

  private void failQueued(Throwable error) {
    List<Pending> dropped;
    synchronized (this) {
      closed = true;
      dropped = new ArrayList<>(queue);
      queue.clear();
      queuedBytes = 0;
      urgentQueued = 0;
      deferrableQueued = 0;
      deferTimerArmed = false;
    }
    dropped.forEach(p -> p.result().completeExceptionally(error));
  }
}
