package io.holdfast.server.raft;

import java.util.concurrent.ForkJoinPool;

/**
 * Keeps the JVM's common pool at two threads or more. Ratis 3.3 hands every follower
 * AppendEntries to {@code CompletableFuture#thenComposeAsync} without an executor, and on a
 * machine with two cores or fewer the JDK sizes the common pool at one thread, which makes
 * CompletableFuture start a new thread for every such task instead: a thread start (and the
 * JVM's wait for it) on the path of every commit, about 250 a second per follower at one client.
 */
public final class CommonPoolFloor {
  static final String PARALLELISM = "java.util.concurrent.ForkJoinPool.common.parallelism";

  private CommonPoolFloor() {
  }

  /**
   * Sets the common pool's size unless the operator chose one. It only works before anything in
   * the JVM touched {@link java.util.concurrent.CompletableFuture}: call it first in main.
   */
  public static void raise() {
    if (System.getProperty(PARALLELISM) == null) {
      System.setProperty(PARALLELISM, Integer.toString(Math.max(2, Runtime.getRuntime().availableProcessors())));
    }
  }

  /** True if async tasks without an executor run on the common pool, not on a thread each. */
  public static boolean inEffect() {
    return ForkJoinPool.getCommonPoolParallelism() > 1;
  }
}
