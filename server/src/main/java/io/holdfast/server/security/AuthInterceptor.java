package io.holdfast.server.security;

import com.codahale.metrics.Counter;
import com.codahale.metrics.MetricRegistry;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.holdfast.server.config.SecurityConfig;
import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Authenticates every call on the client port and rate-limits it per identity. The identity comes
 * from a bearer token ({@code authorization: Bearer ...}) when one is sent, else from the client
 * certificate the TLS handshake verified; with neither it is {@code anonymous}, which is refused
 * (UNAUTHENTICATED) when the config requires auth. Health checks are exempt, for load balancers.
 * The anonymous identity is not rate-limited: it is every unauthenticated client at once, and one
 * bucket for all of them would cap the whole cluster.
 */
public final class AuthInterceptor implements ServerInterceptor {
  private static final Logger LOG = LoggerFactory.getLogger(AuthInterceptor.class);
  public static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  private static final String HEALTH_SERVICE = "grpc.health.v1.Health";
  /**
   * Opening a keepalive stream: refused to a busy identity, it would expire the identity's sessions
   * (streams reopen after every failover). What the stream carries costs one renewal per session
   * and checkpoint; a keepalive for a session the node does not know is charged to the rate by the
   * stream itself (SessionEndpoint).
   */
  private static final java.util.Set<String> UNLIMITED = java.util.Set.of(
      io.holdfast.proto.v1.SessionServiceGrpc.getKeepAliveMethod().getFullMethodName());

  /** Anyone who reaches the port can cause these: 20 lines per 10 s, the metric counts them all. */
  private final WarningBudget refusals = new WarningBudget(LOG, 20, 10_000);
  private final SecurityConfig config;
  private final TokenFile tokens;
  private final RateLimiter rate;
  private final Counter unauthenticated;
  private final Counter rateLimited;
  private final Counter revokedStreams;

  public AuthInterceptor(SecurityConfig config, TokenFile tokens, RateLimiter rate, MetricRegistry registry) {
    this.config = config;
    this.tokens = tokens;
    this.rate = rate;
    this.unauthenticated = registry.counter("holdfast_auth_failures");
    this.rateLimited = registry.counter("holdfast_rate_limited_requests");
    this.revokedStreams = registry.counter("holdfast_auth_streams_revoked");
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    String service = call.getMethodDescriptor().getServiceName();
    if (HEALTH_SERVICE.equals(service)) {
      return next.startCall(call, headers);
    }
    Identity id;
    try {
      id = authenticate(call, headers);
    } catch (AuthException e) {
      unauthenticated.inc();
      refusals.warn("Refused {} from {}: {}", call.getMethodDescriptor().getFullMethodName(),
          call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR), e.getMessage());
      call.close(Status.UNAUTHENTICATED.withDescription(e.getMessage()), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    if (id.source() != Identity.Source.ANONYMOUS && !UNLIMITED.contains(call.getMethodDescriptor().getFullMethodName())
        && !rate.tryAcquire(id.name())) {
      rateLimited.inc();
      call.close(Status.RESOURCE_EXHAUSTED.withDescription("identity '" + id.name() + "' exceeds its request rate ("
          + "rate-limit-per-identity); slow down and retry"), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    Context ctx = Context.current().withValues(Identity.KEY, id, Identity.CONNECTION,
        call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
    if (id.source() == Identity.Source.TOKEN && call.getMethodDescriptor().getType() != MethodDescriptor.MethodType.UNARY) {
      // A stream outlives the check at its start: it is ended if its token is revoked (recheckStreams).
      RevocableCall<Q, R> revocable = new RevocableCall<>(call, TokenFile.hash(bearer(headers)), id.name());
      streams.add(revocable);
      ServerCall.Listener<Q> listener;
      try {
        listener = Contexts.interceptCall(ctx, revocable, headers, next);
      } catch (RuntimeException e) {
        streams.remove(revocable);
        throw e;
      }
      return new ForwardingServerCallListener.SimpleForwardingServerCallListener<Q>(listener) {
        @Override
        public void onComplete() {
          streams.remove(revocable);
          if (revocable.revoked()) {
            // gRPC reports a call the server closed as complete; the handler must learn that its
            // client is gone (a watch unsubscribes on cancel), as if the client had cancelled.
            super.onCancel();
          } else {
            super.onComplete();
          }
        }

        @Override
        public void onCancel() {
          streams.remove(revocable);
          super.onCancel();
        }
      };
    }
    return Contexts.interceptCall(ctx, call, headers, next);
  }

  private final java.util.Set<RevocableCall<?, ?>> streams = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /**
   * Re-reads the token file if it changed, and ends each open stream whose bearer token no longer
   * names the identity it was opened as (removed, or given to another): a revoked token must not
   * keep renewing sessions or reading watches. Run every second or so.
   */
  public void recheckStreams() {
    if (tokens == null || streams.isEmpty()) {
      return;
    }
    try {
      tokens.reload(false);
    } catch (RuntimeException e) {
      // Thrown out of a periodic task, it would cancel every later check.
      LOG.warn("Re-reading the token file failed: {}", e.toString());
      return;
    }
    for (RevocableCall<?, ?> c : streams) {
      try {
        if (tokens.stillNames(c.tokenHash, c.identity)) {
          c.strikes = 0;
        } else if (++c.strikes >= 2) {
          // Two checks a second apart: a file caught half-way through a rewrite ends nothing.
          streams.remove(c);
          revokedStreams.inc();
          LOG.warn("Ended a {} stream of identity '{}': its bearer token was revoked", c.getMethodDescriptor()
              .getFullMethodName(), c.identity);
          c.revoke();
        }
      } catch (RuntimeException e) {
        LOG.warn("Ending a stream of a revoked token failed: {}", e.toString());
      }
    }
  }

  private static String bearer(Metadata headers) {
    return headers.get(AUTHORIZATION).substring(7).trim();
  }

  /**
   * A streaming call that this interceptor may end from another thread. gRPC's ServerCall is not
   * thread-safe, so every method that changes it runs under one lock, and after the revocation
   * the handler's further messages and its own close are dropped.
   */
  private static final class RevocableCall<Q, R> extends ForwardingServerCall.SimpleForwardingServerCall<Q, R> {
    final String tokenHash;
    final String identity;
    /** Consecutive checks that found the token revoked; touched only by recheckStreams' thread. */
    int strikes;
    private boolean closed; // guarded by this
    private volatile boolean revoked;

    RevocableCall(ServerCall<Q, R> call, String tokenHash, String identity) {
      super(call);
      this.tokenHash = tokenHash;
      this.identity = identity;
    }

    @Override
    public synchronized void sendHeaders(Metadata headers) {
      if (!closed) {
        super.sendHeaders(headers);
      }
    }

    @Override
    public synchronized void sendMessage(R message) {
      if (!closed) {
        super.sendMessage(message);
      }
    }

    @Override
    public synchronized void request(int n) {
      if (!closed) {
        super.request(n);
      }
    }

    @Override
    public synchronized void close(Status status, Metadata trailers) {
      if (!closed) {
        closed = true;
        super.close(status, trailers);
      }
    }

    boolean revoked() {
      return revoked;
    }

    @Override
    public boolean isCancelled() {
      return revoked || super.isCancelled();
    }

    synchronized void revoke() {
      if (!closed) {
        closed = true;
        revoked = true;
        super.close(Status.UNAUTHENTICATED.withDescription(
            "the bearer token this stream was opened with has been revoked"), new Metadata());
      }
    }
  }

  private Identity authenticate(ServerCall<?, ?> call, Metadata headers) throws AuthException {
    Iterable<String> all = headers.getAll(AUTHORIZATION);
    String auth = null;
    if (all != null) {
      for (String a : all) {
        if (auth != null) {
          // Which one would we believe? Neither: a proxy or a client bug sent two.
          throw new AuthException("more than one authorization header");
        }
        auth = a;
      }
    }
    if (auth != null) {
      if (tokens == null) {
        throw new AuthException("bearer tokens are not enabled on this cluster (no auth-token-file)");
      }
      if (!auth.regionMatches(true, 0, "Bearer ", 0, 7) || auth.length() == 7) {
        throw new AuthException("the authorization header must be 'Bearer <token>'");
      }
      String who = tokens.identityOf(auth.substring(7).trim());
      if (who == null) {
        throw new AuthException("unknown bearer token");
      }
      return new Identity(who, Identity.Source.TOKEN);
    }
    SSLSession tls = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
    if (tls != null && config.clientTls().mutual()) {
      try {
        Certificate[] chain = tls.getPeerCertificates();
        if (chain.length > 0 && chain[0] instanceof X509Certificate leaf) {
          String name = config.certIdentity() == SecurityConfig.CertIdentity.SAN ? san(leaf) : cn(leaf);
          if (name == null || name.isEmpty()) {
            throw new AuthException("the client certificate has no " + config.certIdentity()
                + " to take the identity from (cert-identity)");
          }
          if (name.equals(Identity.ANONYMOUS.name())) {
            // The name of unauthenticated clients, whom per-identity limits do not count.
            throw new AuthException("the client certificate names '" + name + "', which is reserved");
          }
          return new Identity(name, Identity.Source.CERTIFICATE);
        }
      } catch (SSLPeerUnverifiedException e) {
        // no client certificate: fall through
      }
    }
    if (config.authRequired()) {
      throw new AuthException("authentication required: present a client certificate or a bearer token");
    }
    return Identity.ANONYMOUS;
  }

  static String cn(X509Certificate cert) {
    try {
      List<Rdn> rdns = new LdapName(cert.getSubjectX500Principal().getName()).getRdns();
      for (int i = rdns.size() - 1; i >= 0; i--) {
        if (rdns.get(i).getType().equalsIgnoreCase("CN")) {
          return String.valueOf(rdns.get(i).getValue());
        }
      }
      return null;
    } catch (InvalidNameException e) {
      return null;
    }
  }

  /** The first DNS name, URI or e-mail SAN. */
  static String san(X509Certificate cert) {
    try {
      Collection<List<?>> sans = cert.getSubjectAlternativeNames();
      if (sans == null) {
        return null;
      }
      for (List<?> san : sans) {
        int type = (Integer) san.get(0);
        if (type == 1 || type == 2 || type == 6) {
          return String.valueOf(san.get(1));
        }
      }
      return null;
    } catch (CertificateParsingException e) {
      return null;
    }
  }

  private static final class AuthException extends Exception {
    private static final long serialVersionUID = 1L;

    AuthException(String message) {
      super(message);
    }
  }
}
