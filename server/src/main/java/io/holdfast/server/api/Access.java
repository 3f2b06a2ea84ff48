package io.holdfast.server.api;

import com.codahale.metrics.Counter;
import com.codahale.metrics.MetricRegistry;
import io.grpc.Context;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.holdfast.server.raft.RaftNode;
import io.holdfast.server.security.AccessPolicy;
import io.holdfast.server.security.Identity;
import io.holdfast.server.security.Verb;
import io.holdfast.server.state.ErrorCode;
import io.holdfast.server.state.Names;
import io.holdfast.server.state.SessionRecord;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.LongFunction;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The endpoints' authorization checks for the current call's {@link Identity}: ACL verbs on names
 * and prefixes, and session ownership. Each check returns null when allowed, else the
 * PERMISSION_DENIED to send (counted in {@code holdfast_auth_denials_total} and logged).
 */
public final class Access {
  private static final Logger LOG = LoggerFactory.getLogger(Access.class);
  /** A busy identity can cause a denial per call: 20 lines per 10 s, the metric counts them all. */
  private final io.holdfast.server.security.WarningBudget denialLog =
      new io.holdfast.server.security.WarningBudget(LOG, 20, 10_000);
  private final AccessPolicy policy;
  private final LongFunction<String> ownerOf;
  private final Supplier<CompletableFuture<Void>> readBarrier;
  private final Supplier<? extends RuntimeException> refusesWrites;
  private final Executor afterBarrier;
  private final ApiErrors errors;
  private final Counter denials;
  private final int maxNameLength;

  /** {@code afterBarrier} runs what follows a read barrier: never the apply thread that completes it. */
  public Access(AccessPolicy policy, RaftNode raft, ApiErrors errors, MetricRegistry registry, int maxNameLength,
      Executor afterBarrier) {
    this(policy, id -> raft.stateMachine().read(s -> {
      SessionRecord r = s.session(id);
      return r == null ? null : r.client().principal();
    }), raft::readBarrier, () -> raft.refusesWrites(ForwardRequest.asked()), afterBarrier, errors, registry,
        maxNameLength);
  }

  /**
   * {@code ownerOf}: the principal that opened a session ("" for none), null while this node does
   * not know it. {@code refusesWrites}: why a write sent here now would be refused unlogged, or null.
   */
  Access(AccessPolicy policy, LongFunction<String> ownerOf, Supplier<CompletableFuture<Void>> readBarrier,
      Supplier<? extends RuntimeException> refusesWrites, Executor afterBarrier, ApiErrors errors,
      MetricRegistry registry, int maxNameLength) {
    this.maxNameLength = maxNameLength;
    this.policy = policy;
    this.ownerOf = ownerOf;
    this.readBarrier = readBarrier;
    this.refusesWrites = refusesWrites;
    this.afterBarrier = afterBarrier;
    this.errors = errors;
    this.denials = registry.counter("holdfast_auth_denials");
  }

  /** The configured name length limit (max-name-length), below the hard limit of the state. */
  String checkLength(String what, String name) {
    if (name.length() > maxNameLength) {
      return what + " is " + name.length() + " characters long; the limit is " + maxNameLength
          + " (max-name-length)";
    }
    return null;
  }

  static String who() {
    return Identity.current().name();
  }

  boolean can(Verb verb, String name) {
    return policy.allows(who(), verb, name);
  }

  /** For code that runs off the call's thread (after a read barrier): the identity passed in. */
  boolean can(String identity, Verb verb, String name) {
    return policy.allows(identity, verb, name);
  }

  /** {@code verb} on every name under {@code prefix}, for the identity passed in. */
  boolean canAllUnder(String identity, Verb verb, String prefix) {
    return policy.allowsAllUnder(identity, verb, prefix);
  }

  /** {@code verb} on the lock or key {@code name}. */
  StatusRuntimeException require(Verb verb, String name) {
    if (policy.allows(who(), verb, name)) {
      return null;
    }
    return deny("identity '" + who() + "' may not " + verb.configName() + " '" + Names.printable(name) + "'");
  }

  /** An exclusive key is held as a lock is: it takes lock on that name. */
  StatusRuntimeException requireExclusiveKey(String key) {
    if (policy.allows(who(), Verb.LOCK, key)) {
      return null;
    }
    return deny("identity '" + who() + "' may not lock '" + Names.printable(key)
        + "', so it may not hold it as a session's exclusive_key (an acl rule with lock on it allows both)");
  }

  /**
   * A fenced write names a lock, and its refusal says the lock's current token: the caller must be
   * one who may see that anyway (read or lock on it), or a fence would read any lock's state.
   */
  StatusRuntimeException requireFence(String fenceLock) {
    if (fenceLock.isEmpty() || policy.allows(who(), Verb.READ, fenceLock) || policy.allows(who(), Verb.LOCK, fenceLock)) {
      return null;
    }
    return deny("identity '" + who() + "' may not read or lock '" + Names.printable(fenceLock) + "' (fence_lock)");
  }

  /**
   * A revoke's successor must be a session whose identity may lock the name: given the lock, any
   * other could neither release it nor be told it by its own calls. Null if allowed, or if this node
   * does not know the session (apply then refuses it).
   */
  StatusRuntimeException requireSuccessorMayLock(long sessionId, String lockName) {
    String owner = sessionId == 0 ? null : ownerOf.apply(sessionId);
    if (owner == null || owner.isEmpty() || policy.allows(owner, Verb.LOCK, lockName)) {
      return null;
    }
    return errors.of(io.holdfast.server.state.ErrorCode.INVALID_ARGUMENT, "successor session " + sessionId
        + " was opened by identity '" + owner + "', which may not lock '" + Names.printable(lockName)
        + "': it would hold the lock and could not release it");
  }

  /** {@code verb} on every name under {@code prefix} ("" for all names). */
  StatusRuntimeException requireAllUnder(Verb verb, String prefix) {
    if (policy.allowsAllUnder(who(), verb, prefix)) {
      return null;
    }
    return deny("identity '" + who() + "' may not " + verb.configName() + " "
        + (prefix.isEmpty() ? "every name" : "all of prefix '" + Names.printable(prefix) + "'"));
  }

  /**
   * Runs {@code allowed} if the session was opened by the caller (a session id is not a
   * credential), else answers {@code out} with the refusal. No one checks the sender of a command
   * after this, neither the leader (for a command a follower passes on) nor apply, so a session this
   * node does not know is looked up again after a read barrier, and refused here as
   * SESSION_NOT_FOUND if it is still unknown: passed on, a guessed id could meet a session opened in
   * between, or one this node had not applied yet. A client learns its session's id only once the
   * open is applied, so after the barrier its own session is always known. A node that would refuse
   * the write anyway (a follower not asked to pass it on, or out of touch with the leader) says so at
   * once instead. {@code allowed} runs in the call's gRPC context, on the caller's thread or after
   * the barrier.
   */
  void withOwnSession(long sessionId, StreamObserver<?> out, Runnable allowed) {
    String principal = who();
    String owner = ownerOf.apply(sessionId);
    if (owner != null) {
      StatusRuntimeException denied = ownerCheck(sessionId, principal, owner);
      if (denied != null) {
        out.onError(denied);
      } else {
        allowed.run();
      }
      return;
    }
    RuntimeException notHere;
    try {
      notHere = refusesWrites.get();
    } catch (RuntimeException closing) {
      notHere = closing;
    }
    if (notHere != null) {
      out.onError(errors.of(notHere));
      return;
    }
    Context call = Context.current();
    CompletableFuture<Void> barrier;
    try {
      barrier = readBarrier.get();
    } catch (RuntimeException e) {
      barrier = CompletableFuture.failedFuture(e);
    }
    barrier.whenCompleteAsync((v, err) -> {
      if (err != null) {
        out.onError(errors.of(err));
        return;
      }
      String after = ownerOf.apply(sessionId);
      if (after == null) {
        out.onError(errors.of(ErrorCode.SESSION_NOT_FOUND, "session " + sessionId
            + " not found (closed, expired or never opened)"));
        return;
      }
      StatusRuntimeException denied = ownerCheck(sessionId, principal, after);
      if (denied != null) {
        out.onError(denied);
        return;
      }
      try {
        call.run(allowed);
      } catch (RuntimeException e) {
        // On the caller's thread gRPC would have answered this; here nobody else will.
        out.onError(errors.of(e));
      }
    }, afterBarrier);
  }

  /**
   * For {@code principal} authenticated elsewhere (a follower relaying a keepalive): refused if
   * another identity opened the session. An unknown session passes: a keepalive renews only a
   * session the leader knows, and is answered "not alive" otherwise.
   */
  StatusRuntimeException requireOwner(long sessionId, String principal) {
    String owner = ownerOf.apply(sessionId);
    return owner == null ? null : ownerCheck(sessionId, principal, owner);
  }

  /** As {@link #requireOwner(long, String)} for the current call's identity. */
  StatusRuntimeException requireOwner(long sessionId) {
    return requireOwner(sessionId, who());
  }

  private StatusRuntimeException ownerCheck(long sessionId, String principal, String owner) {
    if (owner.isEmpty() || owner.equals(principal)) {
      return null;
    }
    return deny("session " + sessionId + " was not opened by identity '" + principal
        + "'; a session can be used only by the identity that opened it");
  }

  private StatusRuntimeException deny(String message) {
    denials.inc();
    denialLog.warn("Permission denied: {}", message);
    return errors.of(ErrorCode.PERMISSION_DENIED, message);
  }
}
