package io.holdfast.server.api;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.holdfast.server.config.PeerConfig;
import io.holdfast.server.config.ServerConfig;
import io.holdfast.server.raft.RaftCallException;
import io.holdfast.server.state.ErrorCode;
import io.holdfast.server.state.Result;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;

/**
 * Maps failures to gRPC statuses. Each carries its {@link ErrorCode} in the {@code holdfast-error}
 * trailer and, when another node leads, that node's client endpoint in {@code holdfast-leader}.
 */
public final class ApiErrors {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ApiErrors.class);
  /** Refusals a caller can repeat at will (a fence check with an old token in a loop): counted, logged sparingly. */
  private final io.holdfast.server.security.WarningBudget staleLines =
      new io.holdfast.server.security.WarningBudget(LOG, 20, 10_000);
  public static final Metadata.Key<String> ERROR_KEY =
      Metadata.Key.of("holdfast-error", Metadata.ASCII_STRING_MARSHALLER);
  public static final Metadata.Key<String> LEADER_KEY =
      Metadata.Key.of("holdfast-leader", Metadata.ASCII_STRING_MARSHALLER);
  public static final Metadata.Key<String> TOKEN_KEY =
      Metadata.Key.of("holdfast-current-token", Metadata.ASCII_STRING_MARSHALLER);

  private final ServerConfig config;
  private final io.holdfast.server.ops.ServerMetrics metrics;
  private volatile java.util.function.Function<String, String> clientAddresses;

  public ApiErrors(ServerConfig config, io.holdfast.server.ops.ServerMetrics metrics) {
    this.config = config;
    this.metrics = metrics;
  }

  /**
   * Where leader redirects find a member's client endpoint: the replicated Raft configuration,
   * so members added at run time are named too. Without it, this node's config file.
   */
  public void resolveClientAddressesWith(java.util.function.Function<String, String> lookup) {
    this.clientAddresses = lookup;
  }

  public static Status.Code statusOf(ErrorCode code) {
    switch (code) {
      case NOT_LEADER:
      case NO_LEADER:
      case BUSY:
        return Status.Code.UNAVAILABLE;
      case SESSION_NOT_FOUND:
      case LOCK_NOT_FOUND:
      case WAIT_NOT_FOUND:
        return Status.Code.NOT_FOUND;
      case SESSION_EXPIRED:
      case NOT_HOLDER:
      case STALE_TOKEN:
      case REVISION_MISMATCH:
        return Status.Code.FAILED_PRECONDITION;
      case INVALID_ARGUMENT:
      case REQUEST_ID_REUSED:
        return Status.Code.INVALID_ARGUMENT;
      case PERMISSION_DENIED:
        return Status.Code.PERMISSION_DENIED;
      case RESOURCE_EXHAUSTED:
        return Status.Code.RESOURCE_EXHAUSTED;
      case TIMEOUT:
        return Status.Code.DEADLINE_EXCEEDED;
      default:
        return Status.Code.INTERNAL;
    }
  }

  public StatusRuntimeException of(ErrorCode code, String message) {
    return of(code, message, null, 0);
  }

  public StatusRuntimeException of(ErrorCode code, String message, String leaderId, long currentToken) {
    Metadata trailers = new Metadata();
    trailers.put(ERROR_KEY, code.name());
    if (leaderId != null) {
      java.util.function.Function<String, String> lookup = clientAddresses;
      PeerConfig fromFile = config.peer(leaderId);
      String address = lookup != null ? lookup.apply(leaderId)
          : fromFile == null ? null : fromFile.clientAddress().toString();
      if (address != null && !address.isEmpty()) {
        trailers.put(LEADER_KEY, address);
      }
    }
    if (currentToken != 0) {
      trailers.put(TOKEN_KEY, Long.toString(currentToken));
    }
    return Status.fromCode(statusOf(code)).withDescription(message).asRuntimeException(trailers);
  }

  public StatusRuntimeException invalid(String message) {
    return of(ErrorCode.INVALID_ARGUMENT, message);
  }

  public StatusRuntimeException of(Result.Failure f) {
    if (f.code() == ErrorCode.STALE_TOKEN) {
      metrics.staleTokenRefused();
      staleLines.info("stale token refused: {}", f.message());
    }
    return of(f.code(), f.message(), null, f.currentToken());
  }

  /** As {@link #of(Result.Failure)}, for a write fenced by a lock's token: counted apart from lock calls. */
  public StatusRuntimeException ofFencedWrite(Result.Failure f) {
    if (f.code() == ErrorCode.STALE_TOKEN) {
      fencedWriteRefused(f.message());
    }
    return of(f.code(), f.message(), null, f.currentToken());
  }

  /** Counts and logs one fenced write (or fence check) refused for its token. */
  public void fencedWriteRefused(String message) {
    metrics.fencedWriteRefused();
    staleLines.info("fenced write refused: {}", message);
  }

  /** Maps any failure of a call path (Raft, apply, timeouts, bugs) to a status. */
  public StatusRuntimeException of(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
      t = t.getCause();
    }
    if (t instanceof StatusRuntimeException s) {
      return s;
    }
    if (t instanceof RaftCallException r) {
      String msg = r.code() == ErrorCode.NOT_LEADER
          ? "not the leader" + (r.leaderId() == null ? "" : "; the leader is " + r.leaderId())
          : r.getMessage();
      return of(r.code(), msg, r.leaderId(), 0);
    }
    if (t instanceof TimeoutException) {
      return of(ErrorCode.NO_LEADER, "the cluster did not commit the call in time; retry");
    }
    if (t instanceof java.util.concurrent.RejectedExecutionException) {
      // This node is shutting down (its executors are closed); the write may still have committed:
      // an INTERNAL with a code would be taken as final, and a retry with the same id is safe.
      return of(ErrorCode.NO_LEADER, "this node is shutting down; retry on another");
    }
    return of(ErrorCode.INTERNAL, "internal error: " + t);
  }
}
