package io.holdfast.server.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.holdfast.server.state.ErrorCode;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

/** Which failures of a call path a client may retry: only those where nothing, or maybe the same write, happened. */
class ApiErrorsTest {
  private final ApiErrors errors = new ApiErrors(null, null);

  private static String code(StatusRuntimeException e) {
    return e.getTrailers().get(ApiErrors.ERROR_KEY);
  }

  @Test
  void aShuttingDownNodesClosedExecutorIsRetryableNotInternal() {
    // A forwarded write answered after this node's executors closed: it may have committed.
    StatusRuntimeException e = errors.of(new CompletionException(new RejectedExecutionException("closed")));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertEquals(ErrorCode.NO_LEADER.name(), code(e));
  }

  @Test
  void aTimeoutIsRetryableAndABugIsInternal() {
    assertEquals(ErrorCode.NO_LEADER.name(), code(errors.of(new TimeoutException())));
    StatusRuntimeException bug = errors.of(new IllegalStateException("oops"));
    assertEquals(Status.Code.INTERNAL, bug.getStatus().getCode());
    assertEquals(ErrorCode.INTERNAL.name(), code(bug));
  }
}
