package io.holdfast.client;

/** A fencing token was refused because the lock has moved on to a newer one. */
public class StaleTokenException extends HoldfastException {
  public StaleTokenException(String message) {
    super(message);
  }

  public StaleTokenException(String message, Throwable cause) {
    super(message, cause);
  }
}
