package io.holdfast.server.api;

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
 *
 * <p>A grant is answered on the apply thread as soon as the state lock is released: in a
 * hand-off chain (one lock, many waiters) the grant is the critical path, and a hop to another
 * thread cost a wake-up per hand-off. Waits ended by anything but apply go through the executor.
 */
public final class GrantWaiters implements StateObserver {

  /** How a wait ended. {@code token} is set for a grant. */
  public record Outcome(Kind kind, long token) {
    public enum Kind { GRANTED, CANCELLED, TIMED_OUT, SESSION_ENDED, RETRY }
  }

  private record Key(long sessionId, String lockName) {}

  private final Map<Key, List<CompletableFuture<Outcome>>> waiting = new ConcurrentHashMap<>();
  private final Executor executor;
  /** Outcomes decided under the state lock, completed after it; touched by the apply thread only. */
  private final List<Runnable> decided = new ArrayList<>();

  /** Waits ended other than by apply (leadership lost, a snapshot installed) complete on {@code executor}. */
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
    for (StateEvent e : events) {
      if (e instanceof StateEvent.LockGranted g) {
        complete(new Key(g.sessionId(), g.lockName()), new Outcome(Outcome.Kind.GRANTED, g.token()));
      } else if (e instanceof StateEvent.WaitEnded w) {
        Outcome.Kind kind = switch (w.reason()) {
          case CLOSED -> Outcome.Kind.CANCELLED;
          case TIMED_OUT -> Outcome.Kind.TIMED_OUT;
          case EXPIRED, ADMIN_EXPIRED, TAKEN_OVER, REVOKED -> Outcome.Kind.SESSION_ENDED;
        };
        complete(new Key(w.sessionId(), w.lockName()), new Outcome(kind, 0));
      } else if (e instanceof StateEvent.SessionEnded s) {
        for (Key k : new ArrayList<>(waiting.keySet())) {
          if (k.sessionId() == s.sessionId()) {
            complete(k, new Outcome(Outcome.Kind.SESSION_ENDED, 0));
          }
        }
      }
    }
  }

  @Override
  public void afterApplied() {
    if (decided.isEmpty()) {
      return;
    }
    List<Runnable> now = new ArrayList<>(decided);
    decided.clear();
    for (Runnable r : now) {
      r.run();
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

  private void retryAll() {
    for (Key k : new ArrayList<>(waiting.keySet())) {
      List<CompletableFuture<Outcome>> list = waiting.remove(k);
      if (list != null) {
        Outcome retry = new Outcome(Outcome.Kind.RETRY, 0);
        list.forEach(f -> executor.execute(() -> f.complete(retry)));
      }
    }
  }

  /** Called under the state lock: the futures complete (and answer their calls) in {@link #afterApplied}. */
  private void complete(Key key, Outcome outcome) {
    List<CompletableFuture<Outcome>> list = waiting.remove(key);
    if (list != null) {
      for (CompletableFuture<Outcome> f : list) {
        decided.add(() -> f.complete(outcome));
      }
    }
  }
}
