package io.holdfast.client;

/** No leader could be reached before the retry policy gave up. */
public class ClusterUnavailableException extends HoldfastException {
  public ClusterUnavailableException(String message) {
    super(message);
  }

  public ClusterUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
