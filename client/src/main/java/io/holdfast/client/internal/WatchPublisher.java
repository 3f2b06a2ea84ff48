package io.holdfast.client.internal;

import io.holdfast.client.Watch;
import io.holdfast.client.WatchBatch;
import java.util.List;
import java.util.concurrent.Flow;
import java.util.concurrent.SubmissionPublisher;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A watch as a {@link Flow.Publisher}: each subscriber gets its own resuming watch, with the JDK's
 * {@link SubmissionPublisher} buffering between the stream and the subscriber's demand (a full
 * buffer holds the stream back). Cancelling the subscription closes the watch.
 */
public final class WatchPublisher implements Flow.Publisher<WatchBatch> {
  private final ClientCore core;
  private final List<String> lockPrefixes;
  private final List<String> keyPrefixes;
  private final long afterIndex;

  public WatchPublisher(ClientCore core, List<String> lockPrefixes, List<String> keyPrefixes, long afterIndex) {
    this.core = core;
    this.lockPrefixes = List.copyOf(lockPrefixes);
    this.keyPrefixes = List.copyOf(keyPrefixes);
    this.afterIndex = afterIndex;
  }

  @Override
  public void subscribe(Flow.Subscriber<? super WatchBatch> subscriber) {
    SubmissionPublisher<WatchBatch> buffer = new SubmissionPublisher<>();
    // onSubscribe runs on the publisher's executor, maybe before the watch below exists: a cancel
    // from it is remembered, and the watch closed as soon as it is there.
    AtomicReference<Watch> watch = new AtomicReference<>();
    AtomicBoolean cancelled = new AtomicBoolean();
    buffer.subscribe(new Flow.Subscriber<WatchBatch>() {
      @Override
      public void onSubscribe(Flow.Subscription s) {
        subscriber.onSubscribe(new Flow.Subscription() {
          @Override
          public void request(long n) {
            s.request(n);
          }

          @Override
          public void cancel() {
            s.cancel();
            stopWatching();
          }
        });
      }

      @Override
      public void onNext(WatchBatch item) {
        subscriber.onNext(item);
      }

      // The subscription also ends this way when the subscriber's onNext throws or it asks for a
      // bad amount: the watch must stop then too, or its stream and server-side slot stay open.
      @Override
      public void onError(Throwable t) {
        stopWatching();
        subscriber.onError(t);
      }

      @Override
      public void onComplete() {
        stopWatching();
        subscriber.onComplete();
      }

      private void stopWatching() {
        cancelled.set(true);
        Watch w = watch.get();
        if (w != null) {
          w.close();
        }
        buffer.close();
      }
    });
    Watch w = core.watch(lockPrefixes, keyPrefixes, afterIndex, batch -> {
      if (!buffer.isClosed()) {
        buffer.submit(batch);
      }
    });
    watch.set(w);
    if (cancelled.get()) {
      w.close();
    }
    // A watch the cluster refuses for good (permission, bad prefix) ends the subscriber with the reason.
    w.ended().whenComplete((ok, failure) -> {
      if (failure != null) {
        buffer.closeExceptionally(failure instanceof java.util.concurrent.CompletionException c && c.getCause() != null
            ? c.getCause() : failure);
      } else {
        buffer.close();
      }
    });
  }
}
