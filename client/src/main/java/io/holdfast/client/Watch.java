package io.holdfast.client;

/**
 * A running watch. It follows the cluster across failovers by itself, resuming after the last
 * index it delivered, so the listener sees every matching entry once, in log order. Close it to
 * stop.
 *
 * <p>A batch counts as delivered when the listener returns. If the listener throws, the watch
 * logs it and resumes from before that batch, so the listener is given the same batch again,
 * after a pause that grows; if it throws on the same batch three times in a row, the watch ends
 * with that exception ({@link #ended}) rather than skip the batch or retry it for ever.
 *
 * <pre>{@code
 * try (Watch w = client.watch(List.of(), List.of("fleet/"), 0, batch -> apply(batch))) { ... }
 * }</pre>
 */
public interface Watch extends AutoCloseable {
  /** The index of the last batch delivered. */
  long lastIndex();

  /**
   * Completes when the watch stops: normally on {@link #close}, exceptionally when the cluster
   * refuses it for good ({@link PermissionDeniedException}, {@link InvalidArgumentException}),
   * which no retry would change, or with the listener's exception when it failed on one batch
   * three times. Failovers and lost connections do not end it.
   */
  java.util.concurrent.CompletableFuture<Void> ended();

  @Override
  void close();
}
