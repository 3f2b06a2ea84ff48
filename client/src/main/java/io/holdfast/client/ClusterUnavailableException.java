package io.holdfast.client;

/**
 * No leader could be reached before the retry policy gave up. For a key-value write, a revoke or
 * an admin expiry, it means nothing was applied unless it is the subclass
 * {@link OutcomeUnknownException}. Lock calls settle themselves (an acquire given up on is
 * withdrawn, a release is retried with the session); a session an open given up on may have
 * opened expires with its TTL, as nobody renews it.
 */
public class ClusterUnavailableException extends HoldfastException {
  public ClusterUnavailableException(String message) {
    super(message);
  }

  public ClusterUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
