package io.holdfast.client.testing;

import io.grpc.stub.StreamObserver;
import io.holdfast.proto.v1.CloseSessionRequest;
import io.holdfast.proto.v1.CloseSessionResponse;
import io.holdfast.proto.v1.KeepAliveRequest;
import io.holdfast.proto.v1.KeepAliveResponse;
import io.holdfast.proto.v1.OpenSessionRequest;
import io.holdfast.proto.v1.OpenSessionResponse;
import io.holdfast.proto.v1.SessionServiceGrpc;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The session service of a {@link FakeNode}: opens sessions 1, 2, 3, ... and answers every
 * keepalive at once, except those of the sessions in {@link #silenced}. Records closes. Override
 * {@link #onKeepAlive} to answer otherwise.
 */
public class FakeSessions extends SessionServiceGrpc.SessionServiceImplBase {
  /** Sessions whose keepalives go unanswered, as from a node cut off or paused. */
  public final Set<Long> silenced = ConcurrentHashMap.newKeySet();
  /** The sessions the client closed, in order. */
  public final List<Long> closed = new CopyOnWriteArrayList<>();
  private final AtomicLong ids = new AtomicLong();
  private final AtomicInteger streams = new AtomicInteger();

  @Override
  public void openSession(OpenSessionRequest req, StreamObserver<OpenSessionResponse> out) {
    out.onNext(OpenSessionResponse.newBuilder().setSessionId(ids.incrementAndGet()).setTtlMs(req.getTtlMs()).build());
    out.onCompleted();
  }

  @Override
  public StreamObserver<KeepAliveRequest> keepAlive(StreamObserver<KeepAliveResponse> out) {
    int stream = streams.incrementAndGet();
    return new StreamObserver<>() {
      @Override
      public void onNext(KeepAliveRequest r) {
        onKeepAlive(stream, r, out);
      }

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {
        synchronized (out) {
          out.onCompleted();
        }
      }
    };
  }

  /** One keepalive, on the {@code stream}-th stream opened (from 1). Answer with {@link #answer}. */
  protected void onKeepAlive(int stream, KeepAliveRequest r, StreamObserver<KeepAliveResponse> out) {
    if (!silenced.contains(r.getSessionId())) {
      answer(r, out);
    }
  }

  /** Acknowledges {@code r}: the session is alive and holds no locks. */
  public static void answer(KeepAliveRequest r, StreamObserver<KeepAliveResponse> out) {
    synchronized (out) {
      out.onNext(KeepAliveResponse.newBuilder().setSessionId(r.getSessionId()).setSeq(r.getSeq()).setAlive(true)
          .build());
    }
  }

  @Override
  public void closeSession(CloseSessionRequest req, StreamObserver<CloseSessionResponse> out) {
    closed.add(req.getSessionId());
    out.onNext(CloseSessionResponse.getDefaultInstance());
    out.onCompleted();
  }
}
