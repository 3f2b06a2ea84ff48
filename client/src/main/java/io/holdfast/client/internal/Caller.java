package io.holdfast.client.internal;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.holdfast.client.ClusterUnavailableException;
import io.holdfast.client.OutcomeUnknownException;
import io.holdfast.client.RetryPolicy;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a unary call against the leader, following redirects and retrying with backoff when no
 * leader answers. Callers put a request id in every mutating request, so a retry (the same
 * request) acts at most once on the server.
 */
public final class Caller {
  private static final Logger LOG = LoggerFactory.getLogger(Caller.class);

  private final Endpoints endpoints;
  private final RetryPolicy retry;
  private final ScheduledExecutorService scheduler;
  private final Executor completions;
  private volatile boolean closed;
  /** Calls not yet settled: closing the client fails them, or a retry the closed scheduler dropped would hang its caller. */
  private final java.util.Set<CompletableFuture<?>> unsettled = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /**
   * {@code scheduler} runs the retries; {@code completions} completes the futures a retry settles
   * without an answer from gRPC, so that their dependents, application code, never run on it.
   */
  public Caller(Endpoints endpoints, RetryPolicy retry, ScheduledExecutorService scheduler, Executor completions) {
    this.endpoints = endpoints;
    this.retry = retry;
    this.scheduler = scheduler;
    this.completions = completions;
  }

  /** How long a call retries by default. */
  public Duration retryBudget() {
    return retry.maxElapsed();
  }

  public Endpoints endpoints() {
    return endpoints;
  }

  public ScheduledExecutorService scheduler() {
    return scheduler;
  }

  /** Where the client completes futures that would otherwise complete on one of its schedulers. */
  public Executor completions() {
    return completions;
  }

  /** Runs {@code task} on {@link #completions()}; on this thread if that is shut down (the client closed). */
  void complete(Runnable task) {
    try {
      completions.execute(task);
    } catch (java.util.concurrent.RejectedExecutionException closing) {
      task.run();
    }
  }

  /** One attempt: the RPC on {@code channel} with an attempt deadline of {@code timeout}. */
  public interface Rpc<T> extends BiFunction<Channel, Duration, ListenableFuture<T>> {}

  /**
   * Calls until success, a non-retryable failure, or the retry policy's budget (from now) runs
   * out. {@code attemptTimeout} bounds each attempt, and the time left in the budget bounds it
   * too: the {@code Duration} given to {@code rpc} is the attempt's deadline.
   */
  public <T> CompletableFuture<T> call(String what, Duration attemptTimeout, Rpc<T> rpc) {
    return call(what, attemptTimeout, retry.maxElapsed(), rpc);
  }

  public <T> CompletableFuture<T> call(String what, Duration attemptTimeout, Duration budget, Rpc<T> rpc) {
    return call(what, attemptTimeout, budget, null, rpc);
  }

  /**
   * As above, with the attempts' callbacks (and so the completion of the result) on {@code callbacks}
   * rather than the channel's executor; null for the channel's.
   */
  public <T> CompletableFuture<T> call(String what, Duration attemptTimeout, Duration budget, Executor callbacks,
      Rpc<T> rpc) {
    return call(what, attemptTimeout, budget, callbacks, rpc, null);
  }

  /**
   * As {@link #call(String, Duration, Rpc)}, for a write the caller cannot settle itself: a budget
   * that runs out after an attempt that may have been applied ends in {@link OutcomeUnknownException}.
   */
  public <T> CompletableFuture<T> write(String what, Duration attemptTimeout, Rpc<T> rpc) {
    return call(what, attemptTimeout, retry.maxElapsed(), null, rpc, new Ambiguity());
  }

  /** Whether an attempt of a write may have been applied; written and read on its attempts' threads in turn. */
  private static final class Ambiguity {
    volatile boolean maybeApplied;
  }

  private <T> CompletableFuture<T> call(String what, Duration attemptTimeout, Duration budget, Executor callbacks,
      Rpc<T> rpc, Ambiguity write) {
    CompletableFuture<T> result = new CompletableFuture<>();
    unsettled.add(result);
    result.whenComplete((v, e) -> unsettled.remove(result));
    if (closed) {
      // close() may have swept the set before this call joined it.
      result.completeExceptionally(new ClusterUnavailableException("client closed"));
      return result;
    }
    attempt(what, attemptTimeout, System.nanoTime() + budget.toNanos(), 1, false, null, callbacks, rpc, result, false,
        write);
    return result;
  }

  /**
   * {@code onScheduler}: a retry, run by the scheduler, whose thread must not complete {@code result}.
   * {@code via}: null, or the follower to ask to pass the call on to the leader, which this client
   * cannot reach.
   */
  private <T> void attempt(String what, Duration timeout, long giveUpAt, int n, boolean redirected, String via,
      Executor callbacks, Rpc<T> rpc, CompletableFuture<T> result, boolean onScheduler, Ambiguity write) {
    boolean forward = via != null;
    if (result.isDone()) {
      return;
    }
    if (closed) {
      fail(result, new ClusterUnavailableException("client closed"), onScheduler);
      return;
    }
    // One deadline for the whole call: an attempt gets what is left of it, never a full timeout more.
    long leftNanos = giveUpAt - System.nanoTime();
    if (leftNanos < TimeUnit.MILLISECONDS.toNanos(1)) {
      fail(result, write != null && write.maybeApplied
          ? new OutcomeUnknownException(what + ": no time left in its deadline, after an attempt that may have "
              + "been applied", null)
          : new ClusterUnavailableException(what + ": no time left in its deadline"), onScheduler);
      return;
    }
    Duration attemptTimeout = leftNanos < timeout.toNanos() ? Duration.ofNanos(leftNanos) : timeout;
    // A forwarded attempt goes to the follower that named the silent leader, wherever hints moved meanwhile.
    String endpoint = forward ? via : endpoints.current();
    ListenableFuture<T> f;
    try {
      Channel channel = endpoints.channel(endpoint);
      if (callbacks != null) {
        channel = ClientInterceptors.intercept(channel, new CallbacksOn(callbacks));
      }
      if (forward) {
        channel = ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(FORWARD_HEADERS));
      }
      f = rpc.apply(channel, attemptTimeout);
    } catch (RuntimeException e) {
      fail(result, Errors.map(e), onScheduler);
      return;
    }
    result.whenComplete((v, e) -> {
      if (result.isCancelled()) {
        f.cancel(true);
      }
    });
    Futures.addCallback(f, new FutureCallback<T>() {
      @Override
      public void onSuccess(T value) {
        if (!forward) {
          endpoints.heard(endpoint);
        }
        result.complete(value);
      }

      @Override
      public void onFailure(Throwable t) {
        if (!(t instanceof StatusRuntimeException e) || !Errors.retryable(e)
            || e.getStatus().getCode() == Status.Code.CANCELLED) {
          result.completeExceptionally(Errors.map(t));
          return;
        }
        if (write != null && maybeApplied(e)) {
          write.maybeApplied = true;
        }
        String hint = Errors.leaderHint(e);
        // A follower names a leader this client could not reach just now (a one-sided partition):
        // ask that follower to pass the call on, once; a node too old to know how refuses again.
        boolean forwardNext = !forward && hint != null && !hint.equals(endpoint) && endpoints.wentSilent(hint)
            && "NOT_LEADER".equals(Errors.code(e));
        // Never back to a leader that went silent: a follower passes the call on, or an election names another.
        boolean redirect = !forwardNext && hint != null && !hint.equals(endpoint) && !endpoints.suspect(hint)
            && !endpoints.wentSilent(hint);
        long delayMs;
        if (forwardNext) {
          delayMs = 0;
        } else if (redirect) {
          endpoints.leaderHint(hint);
          // A redirect is not a failure: go straight to the leader (but never ping-pong in a loop).
          delayMs = redirected ? electionPause(n) : 0;
        } else if ("BUSY".equals(Errors.code(e))) {
          // The leader sheds load: it is the leader still, so the same node, after a backoff.
          delayMs = retry.backoffMillis(n);
        } else if (Errors.noLeader(e)) {
          // A node answered but knows no leader we can reach: an election is under way. Ask again
          // soon, elsewhere; backing off exponentially would sleep well past the new leader's start.
          endpoints.failed(endpoint);
          delayMs = electionPause(n);
        } else if (!Errors.code(e).isEmpty() || e.getStatus().getCode() == Status.Code.DEADLINE_EXCEEDED) {
          // Too slow, not gone: back off, so that retries do not add to an overload.
          if (e.getStatus().getCode() == Status.Code.DEADLINE_EXCEEDED) {
            endpoints.silent(endpoint);
          }
          endpoints.failed(endpoint);
          delayMs = retry.backoffMillis(n);
        } else {
          endpoints.unreachable(endpoint);
          // Connection refused or reset: the next endpoint at once, unless every one is down.
          delayMs = endpoints.suspect(endpoints.current()) ? retry.backoffMillis(n) : 0;
        }
        if (System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delayMs + 1) - giveUpAt > 0) {
          result.completeExceptionally(write != null && write.maybeApplied
              ? new OutcomeUnknownException(what + ": no leader answered within the retry budget, and an attempt "
                  + "may have been applied; read before writing again. Last error: " + e.getStatus(), e)
              : new ClusterUnavailableException(what + ": no leader answered within the retry budget; last error: "
                  + e.getStatus(), e));
          return;
        }
        LOG.debug("{} attempt {} on {} failed ({}); retrying in {} ms", what, n, endpoint, e.getStatus(), delayMs);
        try {
          String via = forwardNext ? endpoint : null;
          scheduler.schedule(() -> attempt(what, timeout, giveUpAt, n + 1, redirect, via, callbacks, rpc, result, true,
              write), delayMs, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException closing) {
          result.completeExceptionally(new ClusterUnavailableException("client closed", e));
        }
      }
    }, MoreExecutors.directExecutor());
  }

  /**
   * Whether a failed attempt may have been applied: it may have reached a leader that logged it.
   * A refusal with the server's code says it was not (NOT_LEADER, BUSY), except NO_LEADER, which a
   * leader also answers when it lost office with the entry in its log; a connection refused sent nothing.
   */
  static boolean maybeApplied(StatusRuntimeException e) {
    String code = Errors.code(e);
    if (!code.isEmpty()) {
      return code.equals("NO_LEADER");
    }
    if (e.getStatus().getCode() == Status.Code.UNAVAILABLE) {
      for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
        if (c instanceof java.net.ConnectException) {
          return false;
        }
      }
    }
    return true;
  }

  private <T> void fail(CompletableFuture<T> result, Throwable failure, boolean onScheduler) {
    if (onScheduler) {
      complete(() -> result.completeExceptionally(failure));
    } else {
      result.completeExceptionally(failure);
    }
  }

  /** The pause between attempts while a leader is being elected: the policy's first two steps. */
  private long electionPause(int n) {
    return retry.backoffMillis(Math.min(n, 2));
  }

  public void close() {
    closed = true;
    for (CompletableFuture<?> f : unsettled) {
      f.completeExceptionally(new ClusterUnavailableException("client closed"));
    }
  }

  /** The header that asks a follower to pass a call on to the leader (see the server's ForwardRequest). */
  private static final io.grpc.Metadata FORWARD_HEADERS = forwardHeaders();

  private static io.grpc.Metadata forwardHeaders() {
    io.grpc.Metadata m = new io.grpc.Metadata();
    m.put(io.grpc.Metadata.Key.of("holdfast-forward", io.grpc.Metadata.ASCII_STRING_MARSHALLER), "1");
    return m;
  }

  /** Gives every call made through it {@code executor} for its callbacks. */
  private record CallbacksOn(Executor executor) implements ClientInterceptor {
    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
      return next.newCall(method, options.withExecutor(executor));
    }
  }
}
