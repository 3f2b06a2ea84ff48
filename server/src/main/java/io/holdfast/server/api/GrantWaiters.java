package io.holdfast.server.api;

import io.grpc.Context;
import io.holdfast.server.state.StateEvent;
import io.holdfast.server.statemachine.StateObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;

/**
 * Acquire RPCs waiting on this node for a grant. Apply (on any node, leader or not) tells them
 * when the lock went to their session or their wait ended, so no client ever polls.
 */
public final class GrantWaiters implements StateObserver {

  /**
   * How a wait ended. {@code token} is set for a grant; {@code endedRequestId}, for a wait that apply
   * ended (withdrawn or timed out), is the request id of the acquire that wait belonged to.
   */
  public record Outcome(Kind kind, long token, String endedRequestId) {
    public enum Kind { GRANTED, CANCELLED, TIMED_OUT, SESSION_ENDED, RETRY }

    public Outcome(Kind kind, long token) {
      this(kind, token, "");
    }
  }

  private record Key(long sessionId, String lockName) {}

  private final Map<Key, List<CompletableFuture<Outcome>>> waiting = new ConcurrentHashMap<>();
  private final Executor executor;

  /** Futures complete on {@code executor}, never on the apply thread. */
  public GrantWaiters(Executor executor) {
    this.executor = executor;
  }

  /** Registers before the acquire is submitted, so a grant cannot slip between submit and wait. */
  public CompletableFuture<Outcome> register(long sessionId, String lockName) {
    CompletableFuture<Outcome> f = new CompletableFuture<>();
    waiting.compute(new Key(sessionId, lockName), (k, list) -> {
      List<CompletableFuture<Outcome>> l = list == null ? new ArrayList<>() : list;
      l.add(f);
      return l;
    });
    return f;
  }

  /**
   * As {@link #register(long, String)}, for a gRPC call: when the call ends (answered, or cancelled
   * by its client) the future is let go of, so a client that keeps cancelling waiting acquires
   * leaves nothing behind here. It is not completed: a timed wait's own timer still withdraws the
   * wait when it runs out, as it would have for the call.
   */
  public CompletableFuture<Outcome> register(long sessionId, String lockName, Context call) {
    CompletableFuture<Outcome> f = register(sessionId, lockName);
    Context.CancellationListener ended = c -> unregister(sessionId, lockName, f);
    call.addListener(ended, executor);
    f.whenComplete((o, e) -> call.removeListener(ended));
    return f;
  }

  /**
   * Whether {@code f} still waits for an event: false once apply (or a retry) has ended it, even if
   * it has not completed yet (futures complete on the executor).
   */
  public boolean isRegistered(long sessionId, String lockName, CompletableFuture<Outcome> f) {
    boolean[] found = {false};
    // Looked at under the map's lock for the key, which register, unregister and complete take too.
    waiting.computeIfPresent(new Key(sessionId, lockName), (k, list) -> {
      found[0] = list.contains(f); // futures compare by identity
      return list;
    });
    return found[0];
  }

  public void unregister(long sessionId, String lockName, CompletableFuture<Outcome> f) {
    waiting.computeIfPresent(new Key(sessionId, lockName), (k, list) -> {
      list.remove(f);
      return list.isEmpty() ? null : list;
    });
  }

  @Override
  public void onApplied(List<StateEvent> events) {
    if (waiting.isEmpty()) {
      return;
    }
    java.util.Set<Long> ended = null;
    for (StateEvent e : events) {
      if (e instanceof StateEvent.LockGranted g) {
        complete(new Key(g.sessionId(), g.lockName()), new Outcome(Outcome.Kind.GRANTED, g.token()));
      } else if (e instanceof StateEvent.WaitEnded w) {
        Outcome.Kind kind = switch (w.reason()) {
          case CLOSED -> Outcome.Kind.CANCELLED;
          case TIMED_OUT -> Outcome.Kind.TIMED_OUT;
          case EXPIRED, ADMIN_EXPIRED, TAKEN_OVER, REVOKED -> Outcome.Kind.SESSION_ENDED;
        };
        complete(new Key(w.sessionId(), w.lockName()), new Outcome(kind, 0, w.requestId()));
      } else if (e instanceof StateEvent.SessionEnded s) {
        if (ended == null) {
          ended = new java.util.HashSet<>();
        }
        ended.add(s.sessionId());
      }
    }
    if (ended != null) {
      // One pass for the entry, not one per ended session: an entry of 256 expiries while a
      // hundred thousand calls wait would otherwise scan them all 256 times, on the apply thread.
      for (Key k : new ArrayList<>(waiting.keySet())) {
        if (ended.contains(k.sessionId())) {
          complete(k, new Outcome(Outcome.Kind.SESSION_ENDED, 0));
        }
      }
    }
  }

  @Override
  public void onStateReloaded() {
    // A snapshot replaced the state; events in between are lost. Waiters retry (idempotently).
    retryAll();
  }

  @Override
  public void onLeadershipLost() {
    // A deposed leader may be cut off from the majority and never apply the grant; the client
    // retries the same acquire (same request id, same place in the queue) on the new leader.
    retryAll();
  }

  /**
   * This node, a follower, has not heard from a leader for too long: the waits it holds (forwarded
   * acquires; a follower holds no others) may never see their grant, so their clients retry, with
   * the same request id, where a leader can be reached.
   */
  public void leaderOutOfTouch() {
    retryAll();
  }

  private void retryAll() {
    for (Key k : new ArrayList<>(waiting.keySet())) {
      complete(k, new Outcome(Outcome.Kind.RETRY, 0));
    }
  }

  private void complete(Key key, Outcome outcome) {
    List<CompletableFuture<Outcome>> list = waiting.remove(key);
    if (list != null) {
      for (CompletableFuture<Outcome> f : list) {
        executor.execute(() -> f.complete(outcome));
      }
    }
  }
}
