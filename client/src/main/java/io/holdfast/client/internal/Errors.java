package io.holdfast.client.internal;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.holdfast.client.ClusterUnavailableException;
import io.holdfast.client.HoldfastException;
import io.holdfast.client.InvalidArgumentException;
import io.holdfast.client.LockLostException;
import io.holdfast.client.PermissionDeniedException;
import io.holdfast.client.SessionExpiredException;
import io.holdfast.client.StaleTokenException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/** Reads the server's error trailers and maps a failed call to the client's exceptions. */
public final class Errors {
  public static final Metadata.Key<String> ERROR_KEY =
      Metadata.Key.of("holdfast-error", Metadata.ASCII_STRING_MARSHALLER);
  public static final Metadata.Key<String> LEADER_KEY =
      Metadata.Key.of("holdfast-leader", Metadata.ASCII_STRING_MARSHALLER);

  private Errors() {}

  public static String code(StatusRuntimeException e) {
    Metadata t = e.getTrailers();
    String c = t == null ? null : t.get(ERROR_KEY);
    return c == null ? "" : c;
  }

  public static String leaderHint(StatusRuntimeException e) {
    Metadata t = e.getTrailers();
    return t == null ? null : t.get(LEADER_KEY);
  }

  /** The server's error code of a failed call, wherever its status sits in the cause chain; "" if none. */
  public static String codeOf(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof StatusRuntimeException e) {
        return code(e);
      }
    }
    return "";
  }

  /** The node answered that it is not the leader, or knows none. */
  public static boolean noLeader(StatusRuntimeException e) {
    String c = code(e);
    return c.equals("NOT_LEADER") || c.equals("NO_LEADER");
  }

  /** Whether another attempt (same request id) may succeed: no leader here, or no answer at all. */
  public static boolean retryable(StatusRuntimeException e) {
    Status.Code c = e.getStatus().getCode();
    return c == Status.Code.UNAVAILABLE || c == Status.Code.DEADLINE_EXCEEDED || c == Status.Code.UNKNOWN
        || c == Status.Code.ABORTED || (c == Status.Code.INTERNAL && code(e).isEmpty());
  }

  /** Waits for a call and throws its failure as the client's exception. */
  public static <T> T join(java.util.concurrent.CompletableFuture<T> f) {
    try {
      return f.join();
    } catch (CompletionException e) {
      throw map(e);
    }
  }

  public static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  public static HoldfastException map(Throwable t) {
    t = unwrap(t);
    if (t instanceof HoldfastException h) {
      return h;
    }
    if (!(t instanceof StatusRuntimeException e)) {
      return new HoldfastException(String.valueOf(t), t);
    }
    String message = e.getStatus().getDescription() == null ? e.getStatus().getCode().name()
        : e.getStatus().getDescription();
    switch (code(e)) {
      case "SESSION_NOT_FOUND":
      case "SESSION_EXPIRED":
        return new SessionExpiredException(message, e);
      case "NOT_HOLDER":
        return new LockLostException(message, e);
      case "STALE_TOKEN":
        return new StaleTokenException(message, e);
      case "REVISION_MISMATCH":
        return new io.holdfast.client.RevisionMismatchException(message, e);
      case "INVALID_ARGUMENT":
      case "REQUEST_ID_REUSED":
        return new InvalidArgumentException(message, e);
      case "PERMISSION_DENIED":
        return new PermissionDeniedException(message, e);
      case "RESOURCE_EXHAUSTED":
        return new io.holdfast.client.LimitExceededException("RESOURCE_EXHAUSTED: " + message, e);
      default:
        break;
    }
    switch (e.getStatus().getCode()) {
      case INVALID_ARGUMENT:
        return new InvalidArgumentException(message, e);
      case PERMISSION_DENIED:
      case UNAUTHENTICATED:
        return new PermissionDeniedException(message, e);
      case UNAVAILABLE:
      case DEADLINE_EXCEEDED:
        return new ClusterUnavailableException(message, e);
      case RESOURCE_EXHAUSTED:
        // Without a code: gRPC's own limits (message size) and per-connection ones (watches).
        return new io.holdfast.client.LimitExceededException("RESOURCE_EXHAUSTED: " + message, e);
      default:
        return new HoldfastException(e.getStatus().getCode() + ": " + message, e);
    }
  }
}
