package io.holdfast.client;

/**
 * A write whose outcome is unknown: the retry budget ran out after an attempt that may have reached
 * the leader and been applied (a deadline passed, a connection broke after sending, or the leader
 * lost its office with the write in its log). Within the budget, retries carry the same request id
 * and act at most once; past it, the client cannot tell. Like ZooKeeper's ConnectionLoss: read what
 * the write would have changed before writing again.
 *
 * <pre>{@code
 * try {
 *   kv.putIfRevision("cfg/fleet", bytes, seen.revision());
 * } catch (OutcomeUnknownException e) {
 *   Optional<KeyValue> now = kv.get("cfg/fleet"); // is it ours? decide from what is there
 * } catch (ClusterUnavailableException e) {
 *   // no attempt reached a leader: nothing changed
 * }
 * }</pre>
 */
public class OutcomeUnknownException extends ClusterUnavailableException {
  public OutcomeUnknownException(String message, Throwable cause) {
    super(message, cause);
  }
}
