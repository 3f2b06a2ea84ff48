package io.holdfast.client;

/** The call was malformed (bad name, TTL out of bounds, ...); nothing changed. Retrying will not help. */
public class InvalidArgumentException extends HoldfastException {
  public InvalidArgumentException(String message) {
    super(message);
  }

  public InvalidArgumentException(String message, Throwable cause) {
    super(message, cause);
  }
}
