package io.holdfast.client.internal;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One session's events (listener calls, the completion of {@code onExpired}), run on the
 * listener executor one at a time in the order given, however many threads that executor has.
 * Never throws: a task the executor refuses (shut down) runs on the client's fallback instead,
 * and the last resort is the submitting thread, so that no event, and no completion a caller
 * waits for, is lost.
 */
final class OrderedDelivery implements Executor {
  private static final Logger LOG = LoggerFactory.getLogger(OrderedDelivery.class);

  private final Executor executor;
  private final Executor fallback;
  private final Queue<Runnable> queue = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean draining = new AtomicBoolean();
  private volatile boolean refusedBefore;

  OrderedDelivery(Executor executor, Executor fallback) {
    this.executor = executor;
    this.fallback = fallback;
  }

  @Override
  public void execute(Runnable task) {
    queue.add(task);
    drainSoon();
  }

  private void drainSoon() {
    if (!draining.compareAndSet(false, true)) {
      return; // the running drain takes it, or reschedules itself for it
    }
    try {
      executor.execute(this::drain);
      return;
    } catch (RejectedExecutionException refused) {
      if (!refusedBefore) {
        refusedBefore = true;
        LOG.warn("the client's executor refused a session event ({}); the session's refused events run on the "
            + "client's own thread", refused.toString());
      }
    }
    try {
      fallback.execute(this::drain);
    } catch (RejectedExecutionException closed) {
      drain();
    }
  }

  private void drain() {
    try {
      Runnable task;
      while ((task = queue.poll()) != null) {
        try {
          task.run();
        } catch (RuntimeException | Error e) {
          LOG.warn("a session listener or onExpired dependent failed", e);
        }
      }
    } finally {
      draining.set(false);
    }
    // A task added after the last poll but before the flag was cleared would wait for the next one.
    if (!queue.isEmpty()) {
      drainSoon();
    }
  }
}
