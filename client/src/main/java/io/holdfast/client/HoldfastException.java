package io.holdfast.client;

/**
 * The root of every failure the client reports. Subclasses say what happened; the message says
 * why, in the server's words where it has them.
 */
public class HoldfastException extends RuntimeException {
  public HoldfastException(String message) {
    super(message);
  }

  public HoldfastException(String message, Throwable cause) {
    super(message, cause);
  }
}
