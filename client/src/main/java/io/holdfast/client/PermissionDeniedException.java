package io.holdfast.client;

/** The cluster refused the call for this client's identity. */
public class PermissionDeniedException extends HoldfastException {
  public PermissionDeniedException(String message) {
    super(message);
  }

  public PermissionDeniedException(String message, Throwable cause) {
    super(message, cause);
  }
}
