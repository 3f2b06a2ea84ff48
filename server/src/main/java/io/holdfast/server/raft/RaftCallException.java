package io.holdfast.server.raft;

import io.holdfast.server.state.ErrorCode;

/**
 * A call that Raft could not carry out here: this node is not the leader ({@code leaderId} names
 * the one it knows, or is null), no leader is ready yet, or the node is shutting down. Nothing was
 * applied, so the caller may retry elsewhere.
 */
public final class RaftCallException extends RuntimeException {
  private final ErrorCode code;
  private final String leaderId;

  public RaftCallException(ErrorCode code, String leaderId, String message) {
    super(message, null, false, false);
    this.code = code;
    this.leaderId = leaderId;
  }

  public ErrorCode code() {
    return code;
  }

  /** The leader this node knows of, or null. */
  public String leaderId() {
    return leaderId;
  }
}
