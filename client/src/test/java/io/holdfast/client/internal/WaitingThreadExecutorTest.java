package io.holdfast.client.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Callbacks of a blocking call run on its waiting thread while it waits, and on the fallback after. */
class WaitingThreadExecutorTest {
  private final List<Runnable> fallbackRan = new CopyOnWriteArrayList<>();
  private final Executor fallback = fallbackRan::add;

  @Test
  void callbacksFromAnotherThreadRunOnTheWaitingThread() throws Exception {
    WaitingThreadExecutor callbacks = new WaitingThreadExecutor(fallback);
    CompletableFuture<String> result = new CompletableFuture<>();
    AtomicReference<Thread> ranOn = new AtomicReference<>();
    // As gRPC does: its transport thread hands the callback to the call's executor.
    Thread transport = new Thread(() -> callbacks.execute(() -> {
      ranOn.set(Thread.currentThread());
      result.complete("answer");
    }));
    transport.start();
    assertEquals("answer", callbacks.await(result));
    assertSame(Thread.currentThread(), ranOn.get());
    assertTrue(fallbackRan.isEmpty());
  }

  @Test
  void aResultCompletedElsewhereEndsTheWait() throws Exception {
    WaitingThreadExecutor callbacks = new WaitingThreadExecutor(fallback);
    CompletableFuture<String> result = new CompletableFuture<>();
    new Thread(() -> result.completeExceptionally(new IllegalStateException("session expired"))).start();
    ExecutionException e = assertThrows(ExecutionException.class, () -> callbacks.await(result));
    assertEquals("session expired", e.getCause().getMessage());
  }

  @Test
  void whatArrivesAfterTheWaitRunsOnTheFallback() throws Exception {
    WaitingThreadExecutor callbacks = new WaitingThreadExecutor(fallback);
    assertEquals("done", callbacks.await(CompletableFuture.completedFuture("done")));
    assertLateCallbacksRunOnTheFallback(callbacks);
  }

  @Test
  void anInterruptedWaitHandsItsPendingCallbacksToTheFallback() throws Exception {
    WaitingThreadExecutor callbacks = new WaitingThreadExecutor(fallback);
    CompletableFuture<String> never = new CompletableFuture<>();
    CountDownLatch waiting = new CountDownLatch(1);
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Thread waiter = new Thread(() -> {
      waiting.countDown();
      try {
        callbacks.await(never);
      } catch (Throwable t) {
        thrown.set(t);
      }
    });
    waiter.start();
    assertTrue(waiting.await(10, TimeUnit.SECONDS));
    waiter.interrupt();
    waiter.join(10_000);
    assertTrue(thrown.get() instanceof InterruptedException, "got " + thrown.get());
    assertLateCallbacksRunOnTheFallback(callbacks);
  }

  @Test
  void anUninterruptibleWaitFinishesAndKeepsTheInterrupt() throws Exception {
    WaitingThreadExecutor callbacks = new WaitingThreadExecutor(fallback);
    CompletableFuture<String> result = new CompletableFuture<>();
    Thread.currentThread().interrupt();
    new Thread(() -> callbacks.execute(() -> result.complete("released"))).start();
    try {
      assertEquals("released", callbacks.awaitUninterruptibly(result));
      assertTrue(Thread.currentThread().isInterrupted());
    } finally {
      Thread.interrupted();
    }
  }

  private void assertLateCallbacksRunOnTheFallback(WaitingThreadExecutor callbacks) {
    Runnable late = () -> { };
    callbacks.execute(late);
    assertEquals(List.of(late), fallbackRan);
  }
}
