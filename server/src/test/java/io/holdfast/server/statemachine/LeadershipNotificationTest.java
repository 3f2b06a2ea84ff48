package io.holdfast.server.statemachine;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.state.HoldfastState;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Observers that act only while this node leads (the session clock proposes expiries) end up
 * stopped when the lead is lost while they are being readied: Ratis may report the loss on another
 * thread between its leader-ready call and the observers' readiness.
 */
class LeadershipNotificationTest {
  /** Like the session clock: ready sets it running, a loss stops it if it runs. */
  static final class Clock implements StateObserver {
    Runnable duringReady = () -> { };
    boolean active;

    @Override
    public void onLeaderReady(HoldfastState state) {
      duringReady.run();
      active = true;
    }

    @Override
    public void onLeadershipLost() {
      active = false;
    }
  }

  @Test
  void aLossThatLandsWhileObserversAreReadiedLeavesThemStopped() throws Exception {
    try (HoldfastStateMachine sm = new HoldfastStateMachine()) {
      Clock clock = new Clock();
      sm.addObserver(clock);
      clock.duringReady = () -> sm.notifyNotLeader(List.of());
      sm.notifyLeaderReady();
      assertFalse(clock.active, "the clock runs on a node that no longer leads");
    }
  }

  @Test
  void anUndisturbedLeadershipKeepsThemRunningUntilItIsLost() throws Exception {
    try (HoldfastStateMachine sm = new HoldfastStateMachine()) {
      Clock clock = new Clock();
      sm.addObserver(clock);
      sm.notifyLeaderReady();
      assertTrue(clock.active);
      sm.notifyNotLeader(List.of());
      assertFalse(clock.active);
    }
  }
}
