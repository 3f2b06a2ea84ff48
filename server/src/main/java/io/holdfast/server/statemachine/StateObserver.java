package io.holdfast.server.statemachine;

import io.holdfast.server.state.HoldfastState;
import io.holdfast.server.state.StateEvent;
import java.util.List;

/**
 * Node-local reactions to the replicated state: waiting RPCs, the leader's session clock. Called
 * on Ratis threads, some under Ratis locks: implementations must return quickly and never wait on
 * a Raft submission from inside a callback.
 */
public interface StateObserver {
  /** The events of one applied entry, in order, with the state lock held. */
  default void onApplied(List<StateEvent> events) {}

  /** This node became leader and has applied every entry of earlier terms. State lock held. */
  default void onLeaderReady(HoldfastState state) {}

  /** Raft reported a new leader ({@code leaderId}; this node or another). */
  default void onLeaderChanged(String leaderId) {}

  /** This node stopped being leader (stepped down, or another leader was seen). */
  default void onLeadershipLost() {}

  /** The state was replaced wholesale (a snapshot was installed from the leader). State lock held. */
  default void onStateReloaded() {}
}
