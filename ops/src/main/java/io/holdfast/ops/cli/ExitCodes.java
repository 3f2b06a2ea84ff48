package io.holdfast.ops.cli;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.holdfast.client.InvalidArgumentException;
import io.holdfast.client.LockLostException;
import io.holdfast.client.PermissionDeniedException;
import io.holdfast.client.SessionExpiredException;
import io.holdfast.client.StaleTokenException;
import picocli.CommandLine;

/**
 * Exit codes, the same for every command: 0 ok, 1 failed, 2 usage (bad arguments), 3 not found or
 * precondition failed (no such lock or session, not the holder, stale token, a member that already
 * exists), 4 the lock was lost
 * while {@code lock run} held it. {@code lock run} adds its own (see its help): 75 or
 * --conflict-exit-code when the lock was not acquired, 127 when the command cannot start.
 * Errors go to stderr on one line.
 */
public final class ExitCodes implements CommandLine.IExecutionExceptionHandler {
  public static final int OK = 0;
  public static final int FAILED = 1;
  public static final int USAGE = 2;
  public static final int NOT_FOUND = 3;
  public static final int LOCK_LOST = 4;

  public static int of(Throwable e) {
    if (e instanceof IllegalArgumentException || e instanceof InvalidArgumentException) {
      return USAGE;
    }
    if (e instanceof SessionExpiredException || e instanceof LockLostException || e instanceof StaleTokenException) {
      return NOT_FOUND;
    }
    if (e instanceof PermissionDeniedException) {
      return FAILED;
    }
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof StatusRuntimeException s) {
        Status.Code c = s.getStatus().getCode();
        if (c == Status.Code.NOT_FOUND || c == Status.Code.FAILED_PRECONDITION || c == Status.Code.ALREADY_EXISTS) {
          return NOT_FOUND;
        }
        if (c == Status.Code.INVALID_ARGUMENT) {
          return USAGE;
        }
      }
    }
    return FAILED;
  }

  @Override
  public int handleExecutionException(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) {
    String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    // The whole command ("holdfast kv put"): leaf names repeat (lock show, session show).
    cmd.getErr().println(cmd.getCommandSpec().qualifiedName() + ": " + message.replace('\n', ' '));
    cmd.getErr().flush();
    return of(e);
  }
}
