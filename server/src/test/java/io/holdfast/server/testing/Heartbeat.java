package io.holdfast.server.testing;

import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import io.holdfast.proto.v1.KeepAliveRequest;
import io.holdfast.proto.v1.KeepAliveResponse;
import io.holdfast.proto.v1.SessionServiceGrpc;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Keeps one session alive over a raw keepalive stream until closed, so that a test with a short
 * TTL controls exactly when its holder falls silent (a slow machine must not expire it early).
 */
public final class Heartbeat implements AutoCloseable {
  private final ScheduledExecutorService beats = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "test-heartbeat");
    t.setDaemon(true);
    return t;
  });
  private final StreamObserver<KeepAliveRequest> stream;
  private long seq;
  private boolean closed;

  public Heartbeat(ManagedChannel channel, long sessionId, Duration every) {
    stream = SessionServiceGrpc.newStub(channel).keepAlive(new StreamObserver<KeepAliveResponse>() {
      @Override
      public void onNext(KeepAliveResponse r) {
        // the session's state is what the test reads elsewhere
      }

      @Override
      public void onError(Throwable t) {
        // the stream ends with the test
      }

      @Override
      public void onCompleted() {
        // closed by close()
      }
    });
    beats.scheduleAtFixedRate(() -> stream.onNext(KeepAliveRequest.newBuilder().setSessionId(sessionId)
        .setSeq(++seq).build()), 0, every.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Stops heartbeating: from now on the session lives out its TTL. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    beats.shutdownNow();
    try {
      beats.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    stream.onCompleted();
  }
}
