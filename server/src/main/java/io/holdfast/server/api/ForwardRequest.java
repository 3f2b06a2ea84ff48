package io.holdfast.server.api;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;

/**
 * A client's request that a follower pass its write on to the leader rather than refuse it with
 * NOT_LEADER: the {@code holdfast-forward} header, which a client sets only when it cannot reach
 * the leader that the followers name (a one-sided partition). The follower still authenticates,
 * authorises and validates the call itself. A server that does not know the header refuses as before.
 */
public final class ForwardRequest implements ServerInterceptor {
  public static final Metadata.Key<String> HEADER = Metadata.Key.of("holdfast-forward", Metadata.ASCII_STRING_MARSHALLER);
  private static final Context.Key<Boolean> ASKED = Context.key("holdfast-forward");

  /** Whether the call being handled on this thread asked to be forwarded. */
  static boolean asked() {
    return Boolean.TRUE.equals(ASKED.get());
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    if (headers.containsKey(HEADER)) {
      return Contexts.interceptCall(Context.current().withValue(ASKED, true), call, headers, next);
    }
    return next.startCall(call, headers);
  }
}
