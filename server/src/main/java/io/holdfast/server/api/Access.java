package io.holdfast.server.api;

import com.codahale.metrics.Counter;
import com.codahale.metrics.MetricRegistry;
import io.grpc.StatusRuntimeException;
import io.holdfast.server.raft.RaftNode;
import io.holdfast.server.security.AccessPolicy;
import io.holdfast.server.security.Identity;
import io.holdfast.server.security.Verb;
import io.holdfast.server.state.ErrorCode;
import io.holdfast.server.state.Names;
import io.holdfast.server.state.SessionRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The endpoints' authorization checks for the current call's {@link Identity}: ACL verbs on names
 * and prefixes, and session ownership. Each check returns null when allowed, else the
 * PERMISSION_DENIED to send (counted in {@code holdfast_auth_denials_total} and logged).
 */
public final class Access {
  private static final Logger LOG = LoggerFactory.getLogger(Access.class);
  private final AccessPolicy policy;
  private final RaftNode raft;
  private final ApiErrors errors;
  private final Counter denials;
  private final int maxNameLength;

  public Access(AccessPolicy policy, RaftNode raft, ApiErrors errors, MetricRegistry registry, int maxNameLength) {
    this.maxNameLength = maxNameLength;
    this.policy = policy;
    this.raft = raft;
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

  /** {@code verb} on every name under {@code prefix} ("" for all names). */
  StatusRuntimeException requireAllUnder(Verb verb, String prefix) {
    if (policy.allowsAllUnder(who(), verb, prefix)) {
      return null;
    }
    return deny("identity '" + who() + "' may not " + verb.configName() + " "
        + (prefix.isEmpty() ? "every name" : "all of prefix '" + Names.printable(prefix) + "'"));
  }

  /**
   * The session must have been opened by the caller: a session id is not a credential. Sessions
   * this node does not know are left to apply, which answers SESSION_NOT_FOUND. Safe on the leader
   * because a session's principal never changes and a ready leader has applied every committed open.
   */
  StatusRuntimeException requireOwner(long sessionId) {
    return requireOwner(sessionId, who());
  }

  /** As {@link #requireOwner(long)}, for {@code principal} authenticated elsewhere (a follower, for a forwarded call). */
  StatusRuntimeException requireOwner(long sessionId, String principal) {
    String owner = raft.stateMachine().read(s -> {
      SessionRecord r = s.session(sessionId);
      return r == null ? null : r.client().principal();
    });
    if (owner == null || owner.isEmpty() || owner.equals(principal)) {
      return null;
    }
    return deny("session " + sessionId + " was not opened by identity '" + principal
        + "'; a session can be used only by the identity that opened it");
  }

  private StatusRuntimeException deny(String message) {
    denials.inc();
    LOG.warn("Permission denied: {}", message);
    return errors.of(ErrorCode.PERMISSION_DENIED, message);
  }
}
