package io.holdfast.client.internal;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the gRPC callbacks of one blocking call on the thread that waits for its result, as gRPC's
 * own blocking stubs do. The answer then wakes the waiting thread directly; with the channel's
 * executor it woke a pool thread, which woke the waiting one: a thread hand-off per call, about
 * a third of a busy client's CPU. Callbacks that arrive after the wait ended run on
 * {@code fallback}, so none is ever stranded.
 */
final class WaitingThreadExecutor implements Executor {
  private static final Logger LOG = LoggerFactory.getLogger(WaitingThreadExecutor.class);
  private static final Runnable WAKE = () -> { };

  private final BlockingQueue<Runnable> queue = new LinkedBlockingQueue<>();
  private final Executor fallback;
  private volatile boolean waitOver;

  WaitingThreadExecutor(Executor fallback) {
    this.fallback = fallback;
  }

  @Override
  public void execute(Runnable task) {
    if (waitOver) {
      runOnFallback(task);
      return;
    }
    queue.add(task);
    if (waitOver) {
      // The wait ended between the check and the add: hand over what it left behind.
      handOver();
    }
  }

  /** Runs callbacks on this thread until {@code f} is done (from here or elsewhere), then returns its value. */
  <T> T await(CompletableFuture<T> f) throws InterruptedException, ExecutionException {
    return await(f, true);
  }

  /** As {@link #await}, but an interrupt only stays set for the caller, as with {@code join}. */
  <T> T awaitUninterruptibly(CompletableFuture<T> f) throws ExecutionException {
    try {
      return await(f, false);
    } catch (InterruptedException impossible) {
      throw new IllegalStateException(impossible);
    }
  }

  private <T> T await(CompletableFuture<T> f, boolean interruptible) throws InterruptedException, ExecutionException {
    f.whenComplete((v, e) -> queue.add(WAKE));
    boolean interrupted = false;
    try {
      while (!f.isDone()) {
        Runnable task;
        try {
          task = queue.take();
        } catch (InterruptedException e) {
          if (interruptible) {
            throw e;
          }
          interrupted = true;
          continue;
        }
        try {
          task.run();
        } catch (RuntimeException e) {
          LOG.warn("a gRPC callback failed", e);
        }
      }
      return f.get();
    } finally {
      waitOver = true;
      handOver();
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private void handOver() {
    Runnable task;
    while ((task = queue.poll()) != null) {
      if (task != WAKE) {
        runOnFallback(task);
      }
    }
  }

  private void runOnFallback(Runnable task) {
    try {
      fallback.execute(task);
    } catch (RejectedExecutionException closing) {
      // The client is closing: run it here, on gRPC's thread, rather than lose it.
      task.run();
    }
  }
}
