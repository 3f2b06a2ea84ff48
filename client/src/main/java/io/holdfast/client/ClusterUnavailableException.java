package io.holdfast.client;

/**
 * No leader could be reached before the retry policy gave up. For a write, this means nothing was
 * applied unless it is the subclass {@link OutcomeUnknownException}.
 */
public class ClusterUnavailableException extends HoldfastException {
  public ClusterUnavailableException(String message) {
    super(message);
  }

  public ClusterUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
