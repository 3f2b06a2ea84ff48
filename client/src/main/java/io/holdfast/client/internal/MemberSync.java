package io.holdfast.client.internal;

import io.holdfast.proto.v1.AdminServiceGrpc;
import io.holdfast.proto.v1.ListMembersRequest;
import io.holdfast.proto.v1.Member;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the client's endpoint list in step with the cluster's members, as etcd's client syncs its
 * endpoints: every {@code interval}, and at once when a redirect names a leader the list lacks.
 * Without it a client that runs while every member it was configured with is replaced knows only
 * the leaders it happened to be sent to, and loses the cluster when the last of them goes.
 * The node the client talks to answers from its own copy of the replicated configuration (a
 * stale read: no Raft round for what thousands of clients ask); a failed sync changes nothing.
 */
final class MemberSync implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(MemberSync.class);

  private final Caller caller;
  private final Duration callTimeout;
  private final AtomicBoolean pending = new AtomicBoolean();
  private volatile boolean closed;

  MemberSync(Caller caller, Duration callTimeout) {
    this.caller = caller;
    this.callTimeout = callTimeout;
  }

  /** Syncs every {@code interval}, the first time one interval from now. */
  void start(Duration interval) {
    caller.endpoints().onUnknownLeader(this::soon);
    long ms = interval.toMillis();
    caller.scheduler().scheduleWithFixedDelay(this::soon, ms, ms, TimeUnit.MILLISECONDS);
  }

  /** Asks for the member list unless a request is already on its way. */
  void soon() {
    if (closed || !pending.compareAndSet(false, true)) {
      return;
    }
    try {
      sync().whenComplete((v, e) -> pending.set(false));
    } catch (RuntimeException e) {
      // Not thrown: out of the periodic task, it would cancel every later sync.
      pending.set(false);
      if (!(e instanceof RejectedExecutionException)) {
        LOG.warn("member sync failed", e);
      }
    }
  }

  /** One round: one call (its retries bounded by one call timeout), then the list is learned. */
  CompletableFuture<Void> sync() {
    ListMembersRequest request = ListMembersRequest.newBuilder().setStaleOk(true).build();
    return caller.call("list members", callTimeout, callTimeout, (ch, t) -> AdminServiceGrpc.newFutureStub(ch)
        .withDeadlineAfter(t.toMillis(), TimeUnit.MILLISECONDS).listMembers(request))
        .handle((r, e) -> {
          if (e != null) {
            LOG.debug("member list not refreshed: {}", e.toString());
          } else if (!closed) {
            caller.endpoints().learn(r.getMembersList().stream().map(Member::getClientAddress)
                .filter(a -> !a.isEmpty()).toList());
          }
          return null;
        });
  }

  @Override
  public void close() {
    closed = true;
  }
}
