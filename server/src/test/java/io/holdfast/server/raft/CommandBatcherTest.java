package io.holdfast.server.raft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.state.Command;
import io.holdfast.server.state.Result;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/** What goes into which entry, and who hears what back. Ratis is replaced by futures we complete. */
class CommandBatcherTest {
  private final List<Command> sent = new ArrayList<>();
  private final List<CompletableFuture<Result>> replies = new ArrayList<>();
  private final List<Integer> sizes = new ArrayList<>();

  private CommandBatcher batcher(int maxCommands, int inFlight) {
    return new CommandBatcher(this::replicate, Runnable::run, maxCommands, inFlight,
        c -> c instanceof Command.Release, sizes::add);
  }

  private CompletableFuture<Result> replicate(Command c) {
    CompletableFuture<Result> f = new CompletableFuture<>();
    sent.add(c);
    replies.add(f);
    return f;
  }

  /** A clock that moves only when told to, and the tasks scheduled on it. */
  private static final class ManualScheduler implements CommandBatcher.Scheduler {
    private record Task(long due, Runnable run) {}

    long now;
    final List<Task> tasks = new ArrayList<>();

    @Override
    public long nanoTime() {
      return now;
    }

    @Override
    public void schedule(Runnable task, long delayNanos) {
      tasks.add(new Task(now + delayNanos, task));
    }

    /** Moves the clock and runs the tasks that have come due. */
    void advance(long nanos) {
      now += nanos;
      List<Task> due = tasks.stream().filter(t -> t.due() <= now).toList();
      tasks.removeAll(due);
      due.forEach(t -> t.run().run());
    }
  }

  private static final long LINGER = 1_000_000;
  private final ManualScheduler clock = new ManualScheduler();

  private final List<String> holds = new ArrayList<>();

  private CommandBatcher lingering(int maxCommands) {
    CommandBatcher.BatchStats stats = new CommandBatcher.BatchStats() {
      @Override
      public void sent(int commands) {
        sizes.add(commands);
      }

      @Override
      public void holdEnded(HoldOutcome outcome, long heldNanos) {
        holds.add(outcome + " after " + heldNanos);
      }
    };
    return new CommandBatcher(this::replicate, Runnable::run, maxCommands, 1, c -> c instanceof Command.Release,
        stats, LINGER, clock);
  }

  private static Result.Batch closedBatch(int... ns) {
    List<Result> rs = new ArrayList<>();
    for (int n : ns) {
      rs.add(closed(n));
    }
    return new Result.Batch(rs);
  }

  /** Sends 1 alone, then 2 and 3 together, and completes both entries: a hold for 2 and 3's callers starts. */
  private CommandBatcher holdingForTwo() {
    CommandBatcher b = lingering(256);
    submitAll(b, close(1), close(2), close(3));
    replies.get(0).complete(closed(1));
    assertEquals(new Command.Batch(List.of(close(2), close(3))), sent.get(1), "an entry of one is never held after");
    replies.get(1).complete(closedBatch(2, 3));
    return b;
  }

  private static void submitAll(CommandBatcher b, Command... commands) {
    for (Command c : commands) {
      b.submit(c);
    }
  }

  private static Command release(int n) {
    return new Command.Release("rel" + n, n, "lock-" + n, 1);
  }

  private static Command close(int n) {
    return new Command.CloseSession("r" + n, n);
  }

  private static Result closed(int n) {
    return new Result.SessionClosed(List.of("lock-" + n));
  }

  @Test
  void aLoneCommandGoesOutAtOnceOnItsOwn() throws Exception {
    CommandBatcher b = batcher(256, 1);
    CompletableFuture<Result> r = b.submit(close(1));
    assertEquals(List.of(close(1)), sent, "sent without waiting for anything");
    replies.get(0).complete(closed(1));
    assertEquals(closed(1), r.get());
  }

  @Test
  void commandsArrivingWhileAnEntryIsInFlightGoOutTogetherInOrder() throws Exception {
    CommandBatcher b = batcher(256, 1);
    CompletableFuture<Result> r1 = b.submit(close(1));
    CompletableFuture<Result> r2 = b.submit(close(2));
    CompletableFuture<Result> r3 = b.submit(close(3));
    CompletableFuture<Result> r4 = b.submit(close(4));
    assertEquals(1, sent.size(), "the others wait for the entry in flight");

    replies.get(0).complete(closed(1));
    assertEquals(2, sent.size());
    assertEquals(new Command.Batch(List.of(close(2), close(3), close(4))), sent.get(1));
    assertEquals(closed(1), r1.get());
    assertFalse(r2.isDone());

    replies.get(1).complete(new Result.Batch(List.of(closed(2), closed(3), closed(4))));
    assertEquals(closed(2), r2.get());
    assertEquals(closed(3), r3.get());
    assertEquals(closed(4), r4.get());
    assertEquals(List.of(1, 3), sizes);
  }

  @Test
  void upToInFlightEntriesGoOutBeforeCommandsQueue() {
    CommandBatcher b = batcher(256, 2);
    submitAll(b, close(1), close(2), close(3));
    assertEquals(List.of(close(1), close(2)), sent);
    replies.get(1).complete(closed(2)); // entries may complete out of order
    assertEquals(3, sent.size());
    assertEquals(close(3), sent.get(2), "a batch of one is the plain command");
  }

  @Test
  void aBatchIsCappedAtMaxCommands() {
    CommandBatcher b = batcher(2, 1);
    for (int i = 1; i <= 5; i++) {
      b.submit(close(i));
    }
    replies.get(0).complete(closed(1));
    assertEquals(new Command.Batch(List.of(close(2), close(3))), sent.get(1));
    replies.get(1).complete(new Result.Batch(List.of(closed(2), closed(3))));
    assertEquals(new Command.Batch(List.of(close(4), close(5))), sent.get(2));
  }

  @Test
  void aBatchIsCappedInBytesButALargeCommandStillGoesAlone() {
    CommandBatcher b = batcher(256, 1);
    byte[] big = new byte[(int) CommandBatcher.MAX_BATCH_BYTES / 2 + 1];
    b.submit(close(0));
    b.submit(new Command.Put("p1", "k1", big, -1, "", 0));
    b.submit(new Command.Put("p2", "k2", big, -1, "", 0));
    b.submit(new Command.Put("p3", "k3", new byte[(int) CommandBatcher.MAX_BATCH_BYTES * 2], -1, "", 0));
    replies.get(0).complete(closed(0));
    assertInstanceOf(Command.Put.class, sent.get(1), "two halves do not fit one entry");
    replies.get(1).complete(new Result.KvWritten(2, false));
    assertInstanceOf(Command.Put.class, sent.get(2));
    replies.get(2).complete(new Result.KvWritten(3, false));
    assertInstanceOf(Command.Put.class, sent.get(3), "larger than the cap: alone, not refused");
  }

  @Test
  void theByteCapHoldsForCommandsOtherThanPutsAsTheyAreEncoded() {
    CommandBatcher b = batcher(256, 1);
    b.submit(close(0));
    // Session opens with 32 labels of 256 + 256 characters, outside ASCII: about 33 KB each encoded.
    java.util.TreeMap<String, String> labels = new java.util.TreeMap<>();
    for (int i = 0; i < 32; i++) {
      labels.put(String.format("%03d", i) + "k".repeat(253), "\u00e9".repeat(256));
    }
    io.holdfast.server.state.ClientInfo client = new io.holdfast.server.state.ClientInfo("agent", "host", 1, labels,
        "agent-1");
    for (int i = 0; i < 64; i++) {
      b.submit(new Command.OpenSession("open" + i, 10_000, client));
    }
    replies.get(0).complete(closed(0));
    int opens = 0;
    for (int e = 1; opens < 64; e++) {
      assertTrue(e < sent.size(), "the next entry went out after " + opens + " opens");
      Command entry = sent.get(e);
      int bytes = io.holdfast.server.statemachine.CommandCodec.encode(entry, 0).length;
      assertTrue(bytes <= CommandBatcher.MAX_BATCH_BYTES + 64 * 1024, "entry " + e + ": " + bytes + " bytes");
      int n = entry instanceof Command.Batch batch ? batch.commands().size() : 1;
      opens += n;
      List<Result> rs = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        rs.add(new Result.SessionOpened(i + 1, 10_000));
      }
      replies.get(e).complete(n == 1 ? rs.get(0) : new Result.Batch(rs));
    }
    assertEquals(64, opens);
    assertTrue(sent.size() >= 3, "2 MiB of opens take several entries: " + (sent.size() - 1));
  }

  @Test
  void aFailedEntryFailsEveryCommandInItAndTheNextEntryStillGoesOut() throws Exception {
    CommandBatcher b = batcher(256, 1);
    b.submit(close(1));
    CompletableFuture<Result> r2 = b.submit(close(2));
    CompletableFuture<Result> r3 = b.submit(close(3));
    replies.get(0).complete(closed(1));
    CompletableFuture<Result> r4 = b.submit(close(4));
    RaftCallException notLeader = new RaftCallException(io.holdfast.server.state.ErrorCode.NOT_LEADER, "n2", "not the leader");
    replies.get(1).completeExceptionally(notLeader);
    for (CompletableFuture<Result> r : List.of(r2, r3)) {
      ExecutionException e = assertThrows(ExecutionException.class, r::get);
      assertSame(notLeader, e.getCause());
    }
    assertEquals(close(4), sent.get(2), "the queue moves on after a failure");
    assertFalse(r4.isDone());
  }

  @Test
  void aBatchAnsweredWithTheWrongShapeFailsItsCommandsRatherThanMisanswerThem() {
    CommandBatcher b = batcher(256, 1);
    b.submit(close(1));
    CompletableFuture<Result> r2 = b.submit(close(2));
    CompletableFuture<Result> r3 = b.submit(close(3));
    replies.get(0).complete(closed(1));
    replies.get(1).complete(new Result.Batch(List.of(closed(2))));
    assertTrue(r2.isCompletedExceptionally());
    assertTrue(r3.isCompletedExceptionally());
  }

  @Test
  void anUrgentCommandOpensOneEntryBeyondTheLimitTakingWhatQueuedBeforeIt() {
    CommandBatcher b = batcher(256, 1);
    b.submit(close(1));
    b.submit(close(2));
    assertEquals(1, sent.size(), "an ordinary command waits for the entry in flight");
    b.submit(release(3));
    assertEquals(2, sent.size(), "the release does not wait");
    assertEquals(new Command.Batch(List.of(close(2), release(3))), sent.get(1),
        "it carries what queued before it, so order is kept");

    b.submit(release(4));
    b.submit(close(5));
    assertEquals(2, sent.size(), "only one entry beyond the limit");
    replies.get(1).complete(new Result.Batch(List.of(closed(2), new Result.Released(0))));
    assertEquals(new Command.Batch(List.of(release(4), close(5))), sent.get(2),
        "the extra entry is free again, and a release is queued");

    b.submit(close(6));
    replies.get(2).complete(new Result.Batch(List.of(new Result.Released(0), closed(5))));
    assertEquals(3, sent.size(), "with nothing urgent queued, the limit holds");
    replies.get(0).complete(closed(1));
    assertEquals(close(6), sent.get(3));
    assertEquals(List.of(1, 2, 2, 1), sizes);
  }

  @Test
  void anUrgentCommandLeftBeyondMaxCommandsStillOpensTheExtraEntryOnlyOnce() {
    CommandBatcher b = batcher(2, 1);
    submitAll(b, close(1), close(2), close(3), release(4));
    assertEquals(new Command.Batch(List.of(close(2), close(3))), sent.get(1), "capped at two");
    assertEquals(2, sent.size(), "the release stays queued: the extra entry is taken");
    replies.get(0).complete(closed(1));
    assertEquals(release(4), sent.get(2));
  }

  @Test
  void afterAnEntryOfSeveralItsCallersNextCommandsShareOneEntry() {
    CommandBatcher b = holdingForTwo();
    b.submit(close(4));
    assertEquals(2, sent.size(), "held: the other caller of the entry is expected back");
    b.submit(close(5));
    assertEquals(3, sent.size(), "both callers are back: the hold ends without waiting out its time");
    assertEquals(new Command.Batch(List.of(close(4), close(5))), sent.get(2));
    assertEquals(List.of(1, 2, 2), sizes);
    assertEquals(List.of("FILLED after 0"), holds);
  }

  @Test
  void aHoldEndsWhenItsTimeRunsOut() {
    CommandBatcher b = holdingForTwo();
    b.submit(close(4));
    clock.advance(LINGER - 1);
    assertEquals(2, sent.size(), "still within the linger");
    clock.advance(1);
    assertEquals(close(4), sent.get(2), "the timer sends what came");
    assertEquals(List.of("PARTIAL after " + LINGER), holds, "one of the two callers came back");
  }

  @Test
  void aHandOverThatEndsAHoldEarlyIsCountedAsSuch() {
    CommandBatcher b = holdingForTwo();
    clock.advance(300);
    b.submit(release(5));
    assertEquals(release(5), sent.get(2));
    assertEquals(List.of("HANDED_OVER after 300"), holds);
  }

  @Test
  void aHandOverEndsAHoldAtOnce() {
    CommandBatcher b = holdingForTwo();
    b.submit(close(4));
    b.submit(release(5));
    assertEquals(new Command.Batch(List.of(close(4), release(5))), sent.get(2),
        "a waiter is waiting on the release: it goes with what queued before it");
  }

  @Test
  void aQueueAlreadyHoldingAFullEntryIsNotHeld() {
    CommandBatcher b = lingering(2);
    submitAll(b, close(1), close(2), close(3), close(4), close(5));
    replies.get(0).complete(closed(1));
    assertEquals(new Command.Batch(List.of(close(2), close(3))), sent.get(1));
    replies.get(1).complete(closedBatch(2, 3));
    assertEquals(3, sent.size(), "a full entry was queued already: nothing to wait for");
    assertEquals(new Command.Batch(List.of(close(4), close(5))), sent.get(2));
    assertTrue(clock.tasks.isEmpty() && holds.isEmpty(), "no hold was started: " + holds);
  }

  @Test
  void aLoneCallerIsNeverHeld() {
    CommandBatcher b = lingering(256);
    for (int i = 1; i <= 5; i++) {
      b.submit(close(i));
      assertEquals(i, sent.size(), "command " + i + " went out at once");
      replies.get(i - 1).complete(closed(i));
    }
    assertTrue(clock.tasks.isEmpty(), "no hold was ever started");
  }

  @Test
  void holdsThatFailAreSkippedForAWhileAndAHoldThatWorksResetsThat() {
    CommandBatcher b = holdingForTwo();
    clock.advance(LINGER);
    assertEquals(2, sent.size(), "nothing came, nothing to send");
    // The miss is counted when the hold is next looked at: this command ends it and goes out.
    b.submit(close(4));
    b.submit(close(5));
    assertEquals(close(4), sent.get(2), "the hold had run out: sent at once");
    assertEquals(List.of("MISSED after " + LINGER), holds);
    replies.get(2).complete(closed(4));
    assertEquals(close(5), sent.get(3));
    b.submit(close(6));
    b.submit(close(7));
    replies.get(3).complete(closed(5));
    assertEquals(new Command.Batch(List.of(close(6), close(7))), sent.get(4));
    // One miss: the next two chances to hold are skipped.
    for (int skipped = 0; skipped < 2; skipped++) {
      int before = sent.size();
      submitAll(b, close(100 + 2 * skipped), close(101 + 2 * skipped));
      replies.get(before - 1).complete(closedBatch(6, 7));
      assertEquals(before + 1, sent.size(), "skipped hold " + skipped + ": the queue went out at once");
    }
    int before = sent.size();
    replies.get(before - 1).complete(closedBatch(102, 103));
    b.submit(close(8));
    assertEquals(before, sent.size(), "holding again");
    b.submit(close(9));
    assertEquals(new Command.Batch(List.of(close(8), close(9))), sent.get(before), "and it worked");
  }

  @Test
  void commandsHeldWhenTheNodeShutsDownFailRatherThanWaitForever() {
    CommandBatcher b = holdingForTwo();
    CompletableFuture<Result> held = b.submit(close(4));
    b.shutDown();
    ExecutionException e = assertThrows(ExecutionException.class, held::get);
    assertInstanceOf(RaftCallException.class, e.getCause());
  }

  @Test
  void aLingerNeedsAScheduler() {
    assertThrows(IllegalArgumentException.class, () -> new CommandBatcher(this::replicate, Runnable::run, 256, 1,
        c -> false, sizes::add, LINGER, null));
  }

  // ---- deferrable commands (an acquire that will queue behind other waiters anyway) ----------

  private CommandBatcher deferring(long linger) {
    return new CommandBatcher(this::replicate, Runnable::run, 256, 1, c -> c instanceof Command.Release,
        c -> c instanceof Command.Acquire, sizes::add, linger, clock);
  }

  private static Command acquire(int n) {
    return new Command.Acquire("acq" + n, n, "contended", -1);
  }

  @Test
  void aDeferrableCommandWaitsForCompanyAtMostTheLingerFromItsArrival() {
    CommandBatcher b = deferring(LINGER);
    CompletableFuture<Result> r = b.submit(acquire(1));
    assertTrue(sent.isEmpty(), "nothing in flight, yet it waits for company");
    clock.advance(LINGER / 2);
    b.submit(acquire(2));
    assertTrue(sent.isEmpty());
    clock.advance(LINGER / 2);
    assertEquals(List.of(new Command.Batch(List.of(acquire(1), acquire(2)))), sent,
        "the oldest one's linger is over: both go out, as one entry");
    assertFalse(r.isDone());
    replies.get(0).complete(new Result.Batch(List.of(new Result.Queued(1), new Result.Queued(2))));
    assertEquals(new Result.Queued(1), r.join());
  }

  @Test
  void aHandOverCarriesTheDeferredCommandsAtOnceInOrder() {
    CommandBatcher b = deferring(LINGER);
    b.submit(acquire(1));
    b.submit(release(7));
    assertEquals(List.of(new Command.Batch(List.of(acquire(1), release(7)))), sent,
        "the release goes out at once, and takes the acquire queued before it");
    assertEquals(1, clock.tasks.size(), "the deferral's timer");
    clock.advance(LINGER);
    assertEquals(1, sent.size(), "the timer finds nothing left to send");
  }

  @Test
  void anyCommandThatMustGoCarriesTheDeferredOnes() {
    CommandBatcher b = deferring(LINGER);
    b.submit(acquire(1));
    b.submit(close(2));
    assertEquals(List.of(new Command.Batch(List.of(acquire(1), close(2)))), sent);
  }

  @Test
  void deferredCommandsBehindAnEntryInFlightGoOutWithTheNextEntryOnceTheirLingerIsOver() {
    CommandBatcher b = deferring(LINGER);
    b.submit(close(1));
    b.submit(acquire(2));
    replies.get(0).complete(closed(1));
    assertEquals(1, sent.size(), "the pipe is free, but the acquire still waits for company");
    clock.advance(LINGER);
    assertEquals(acquire(2), sent.get(1));
  }

  @Test
  void withoutALingerNothingIsDeferred() {
    CommandBatcher b = deferring(0);
    b.submit(acquire(1));
    assertEquals(List.of(acquire(1)), sent);
  }

  @Test
  void deferredCommandsFailWhenTheNodeShutsDown() {
    CommandBatcher b = deferring(LINGER);
    CompletableFuture<Result> r = b.submit(acquire(1));
    b.shutDown();
    ExecutionException e = assertThrows(ExecutionException.class, r::get);
    assertInstanceOf(RaftCallException.class, e.getCause());
  }

  @Test
  void aDeferralTimerThatFoundNothingLeftDoesNotStopTheNextDeferral() {
    CommandBatcher b = deferring(LINGER);
    b.submit(acquire(1));
    b.submit(release(7));
    replies.get(0).complete(new Result.Batch(List.of(new Result.Queued(1), new Result.Released(0))));
    clock.advance(LINGER);
    assertEquals(1, sent.size());
    b.submit(acquire(2));
    assertTrue(clock.tasks.size() == 1 && sent.size() == 1, "a new timer for the new deferral");
    clock.advance(LINGER);
    assertEquals(acquire(2), sent.get(1), "sent when its own linger is over");
  }

  @Test
  void aCommandThatMustGoStillGoesAtOnceAfterDeferredOnesLeft() {
    CommandBatcher b = deferring(LINGER);
    b.submit(acquire(1));
    clock.advance(LINGER);
    replies.get(0).complete(new Result.Queued(1));
    b.submit(close(2));
    assertEquals(close(2), sent.get(1), "nothing deferred is counted as still queued");
  }

  @Test
  void deferredCommandsWaitThroughAHoldAndAHandOverEndsBoth() {
    CommandBatcher b = deferring(LINGER);
    submitAll(b, close(1), close(2), close(3));
    replies.get(0).complete(closed(1));
    replies.get(1).complete(closedBatch(2, 3));
    b.submit(acquire(4));
    assertEquals(2, sent.size(), "held, and deferred");
    b.submit(release(5));
    assertEquals(new Command.Batch(List.of(acquire(4), release(5))), sent.get(2));
  }

  @Test
  void aSubmitAfterShutDownFailsAtOnceAndARejectingTimerFailsWhatItWouldHaveSent() {
    CommandBatcher b = deferring(LINGER);
    b.shutDown();
    CompletableFuture<Result> late = b.submit(acquire(1));
    ExecutionException e = assertThrows(ExecutionException.class, late::get);
    assertInstanceOf(RaftCallException.class, e.getCause());
    assertTrue(sent.isEmpty());

    CommandBatcher.Scheduler rejecting = new CommandBatcher.Scheduler() {
      @Override
      public long nanoTime() {
        return 0;
      }

      @Override
      public void schedule(Runnable task, long delayNanos) {
        throw new java.util.concurrent.RejectedExecutionException("closed");
      }
    };
    CommandBatcher closing = new CommandBatcher(this::replicate, Runnable::run, 256, 1,
        c -> c instanceof Command.Release, c -> c instanceof Command.Acquire, sizes::add, LINGER, rejecting);
    CompletableFuture<Result> deferred = closing.submit(acquire(2));
    assertThrows(ExecutionException.class, deferred::get, "no timer will ever send it: it fails instead of waiting");
  }

  /**
   * Past its limit the queue refuses a command at once as busy (retryable, nothing logged), except
   * the leader's own housekeeping; once the entry in flight completes, there is room again.
   */
  @Test
  void aFullQueueRefusesCommandsButNotHousekeeping() throws Exception {
    CommandBatcher b = batcher(256, 1).limitQueue(2, Long.MAX_VALUE, c -> c instanceof Command.Checkpoint);
    b.submit(close(1)); // in flight
    CompletableFuture<Result> second = b.submit(close(2));
    CompletableFuture<Result> third = b.submit(close(3));
    CompletableFuture<Result> refused = b.submit(close(4));
    ExecutionException e = assertThrows(ExecutionException.class, refused::get);
    RaftCallException busy = assertInstanceOf(RaftCallException.class, e.getCause());
    assertEquals(io.holdfast.server.state.ErrorCode.BUSY, busy.code(), "retryable: nothing was logged");
    assertTrue(busy.getMessage().contains("busy"), busy.getMessage());
    Command.Checkpoint renewal = new Command.Checkpoint(new long[] {7});
    CompletableFuture<Result> checkpoint = b.submit(renewal);
    assertFalse(checkpoint.isDone(), "queued although the queue is full");

    replies.get(0).complete(closed(1));
    assertEquals(new Command.Batch(List.of(close(2), close(3), renewal)), sent.get(1));
    assertFalse(b.submit(close(5)).isDone(), "room again once the queue went out");
    assertFalse(second.isDone() || third.isDone());
  }

  /** The byte limit: a command larger than what is left waits for nothing, it is refused; alone it still goes. */
  @Test
  void theQueuesByteLimitCountsEncodedCommands() throws Exception {
    long one = io.holdfast.server.statemachine.CommandCodec.entryBytes(close(2));
    CommandBatcher b = batcher(256, 1).limitQueue(1_000, one, c -> false);
    b.submit(close(1)); // in flight, not queued
    assertFalse(b.submit(close(2)).isDone(), "the first queued command always fits");
    CompletableFuture<Result> refused = b.submit(close(3));
    assertTrue(refused.isCompletedExceptionally(), "past the bytes");
  }
}
