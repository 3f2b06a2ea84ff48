package io.holdfast.client.testing;

import io.grpc.BindableService;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.holdfast.client.internal.Errors;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * A stand-in for one cluster node: a real gRPC server on a free loopback port, serving the fake
 * services a test gives it. For client behaviour that a real cluster cannot be made to show on
 * cue (an answer held back, a refusal), and fast.
 */
public final class FakeNode implements AutoCloseable {
  private final Server server;

  private FakeNode(Server server) {
    this.server = server;
  }

  public static FakeNode serve(BindableService... services) {
    NettyServerBuilder b = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0));
    for (BindableService s : services) {
      b.addService(s);
    }
    try {
      return new FakeNode(b.build().start());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public String endpoint() {
    return "127.0.0.1:" + server.getPort();
  }

  /** The failure a node sends with the server's error code in its trailers, as the real one does. */
  public static StatusRuntimeException error(Status.Code status, String code) {
    Metadata trailers = new Metadata();
    trailers.put(Errors.ERROR_KEY, code);
    return Status.fromCode(status).withDescription(code).asRuntimeException(trailers);
  }

  @Override
  public void close() throws InterruptedException {
    server.shutdownNow();
    server.awaitTermination(5, TimeUnit.SECONDS);
  }
}
