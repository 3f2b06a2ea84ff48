package io.holdfast.server.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.state.Command;
import io.holdfast.server.state.HoldfastState;
import io.holdfast.server.state.Result;
import io.holdfast.server.state.TestLog;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** The leader's session clock against a node the test plays: who leads, and what it is asked to log. */
class LeaderSessionClockTest {
  static class PlayedNode implements LeaderSessionClock.Node {
    final HoldfastState state;
    volatile boolean leads;
    final List<Command> submitted = new CopyOnWriteArrayList<>();
    volatile long lastAppliedAtNanos;

    @Override
    public long lastAppliedAtNanos() {
      return lastAppliedAtNanos;
    }

    PlayedNode(HoldfastState state) {
      this.state = state;
    }

    @Override
    public boolean leads() {
      return leads;
    }

    @Override
    public CompletableFuture<Result> submit(Command command) {
      submitted.add(command);
      return new CompletableFuture<>(); // never committed: the test only watches what is proposed
    }

    @Override
    public <T> T read(Function<HoldfastState, T> f) {
      synchronized (state) {
        return f.apply(state);
      }
    }
  }

  /** The node leads, and the clock hears so, with the state lock held as in apply. */
  private static void leads(PlayedNode node, LeaderSessionClock clock) {
    node.leads = true;
    node.read(state -> {
      clock.onLeaderReady(state);
      return null;
    });
  }

  /**
   * The loss of the previous leadership, told on another Ratis thread, can reach the clock after
   * the next leadership began. The clock must not stay stopped on a leader: a holder that died
   * would then keep its locks for as long as this node leads.
   */
  @Test
  void aLossToldAfterTheNextLeadershipBeganDoesNotStopTheLeadersClock() throws Exception {
    TestLog log = new TestLog();
    long dead = log.open(1_000);
    PlayedNode node = new PlayedNode(log.state());
    try (LeaderSessionClock clock = new LeaderSessionClock(node, 200, 20)) {
      leads(node, clock);
      clock.onLeadershipLost(); // late: about the term before
      long start = System.nanoTime();
      while (node.submitted.isEmpty() && System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5)) {
        Thread.sleep(10);
      }
      assertEquals(Command.ExpireSession.class, node.submitted.isEmpty() ? null : node.submitted.get(0).getClass(),
          "the session that stopped renewing is expired");
      assertEquals(dead, ((Command.ExpireSession) node.submitted.get(0)).sessionId());
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertTrue(ms < 1_000 + 200 + 2_000, "within its TTL and the grace (and a bound): " + ms + " ms");
    }
  }

  /** A clock running on a node that does not lead (a loss nobody passed on) stops by itself. */
  @Test
  void aClockRunningOnAFollowerStops() throws Exception {
    TestLog log = new TestLog();
    log.open(200);
    PlayedNode node = new PlayedNode(log.state());
    try (LeaderSessionClock clock = new LeaderSessionClock(node, 0, 20)) {
      leads(node, clock);
      node.leads = false; // and nobody tells the clock
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (clock.isActive() && System.nanoTime() < end) {
        Thread.sleep(10);
      }
      assertTrue(!clock.isActive(), "stopped");
      Thread.sleep(500);
      assertEquals(List.of(), node.submitted, "and proposed nothing");
    }
  }

  @Test
  void aNodeThatNoLongerLeadsProposesNothing() throws Exception {
    TestLog log = new TestLog();
    log.open(200);
    PlayedNode node = new PlayedNode(log.state());
    try (LeaderSessionClock clock = new LeaderSessionClock(node, 0, 20)) {
      leads(node, clock);
      node.leads = false;
      clock.onLeadershipLost();
      Thread.sleep(1_000);
      assertEquals(List.of(), node.submitted);
    }
  }

  /** A scan that throws (the division briefly unavailable) must not end the schedule. */
  @Test
  void aScanThatThrowsDoesNotStopExpiry() throws Exception {
    TestLog log = new TestLog();
    long dead = log.open(200);
    java.util.concurrent.atomic.AtomicInteger asked = new java.util.concurrent.atomic.AtomicInteger();
    PlayedNode node = new PlayedNode(log.state()) {
      @Override
      public boolean leads() {
        if (asked.incrementAndGet() == 1) {
          throw new IllegalStateException("no division yet");
        }
        return true;
      }
    };
    node.leads = true;
    // Not told it leads: its first scan takes the restart path, whose first question throws.
    try (LeaderSessionClock clock = new LeaderSessionClock(node, 0, 20)) {
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (node.submitted.isEmpty() && System.nanoTime() < end) {
        Thread.sleep(10);
      }
      assertTrue(asked.get() > 1, "scanned again after the throw");
      assertEquals(List.of(new Command.ExpireSession(dead, log.state().session(dead).renewedIndex())),
          node.submitted.subList(0, Math.min(1, node.submitted.size())));
    }
  }

  /**
   * A new leader counts the time since it last applied an entry as gone from every session: every
   * stamp the log's clock counted was made before then. It used to add the whole failover (and a
   * second of grace) to a dead holder's TTL.
   */
  @Test
  void aNewLeaderTakesTheTimeSinceItsLastApplyFromEverySession() throws Exception {
    TestLog log = new TestLog();
    long s = log.open(2_000);
    log.applyAt(log.term(), log.timeMs() + 1_000, new Command.Checkpoint(new long[0])); // the old leader's last tick
    PlayedNode node = new PlayedNode(log.state());
    node.lastAppliedAtNanos = System.nanoTime() - TimeUnit.MILLISECONDS.toNanos(800); // then the election
    try (LeaderSessionClock clock = new LeaderSessionClock(node, 0, 20_000)) {
      leads(node, clock);
      long left = clock.remainingMs(s);
      assertTrue(left >= 0 && left <= 200, "2,000 ms TTL - 1,000 by the log - 800 since the last apply: " + left);
    }
    PlayedNode unknown = new PlayedNode(log.state());
    try (LeaderSessionClock clock = new LeaderSessionClock(unknown, 0, 20_000)) {
      leads(unknown, clock);
      long left = clock.remainingMs(s);
      assertTrue(left > 900 && left <= 1_000, "nothing applied yet: only the log's time counts: " + left);
    }
  }
}
