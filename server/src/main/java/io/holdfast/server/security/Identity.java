package io.holdfast.server.security;

import io.grpc.Context;

/**
 * Who is calling, as the front door authenticated it: from a client certificate, a bearer token,
 * or nobody (auth off). Lives in the gRPC {@link Context} of each call ({@link AuthInterceptor}).
 */
public record Identity(String name, Source source) {
  public enum Source {
    CERTIFICATE, TOKEN, ANONYMOUS
  }

  public static final Identity ANONYMOUS = new Identity("anonymous", Source.ANONYMOUS);
  static final Context.Key<Identity> KEY = Context.key("holdfast-identity");
  static final Context.Key<java.net.SocketAddress> CONNECTION = Context.key("holdfast-connection");

  /** The current call's identity; {@link #ANONYMOUS} outside a call or with auth off. */
  public static Identity current() {
    Identity id = KEY.get();
    return id == null ? ANONYMOUS : id;
  }

  /** The current call's client connection (its remote address), or null outside a call. */
  public static java.net.SocketAddress connection() {
    return CONNECTION.get();
  }
}
