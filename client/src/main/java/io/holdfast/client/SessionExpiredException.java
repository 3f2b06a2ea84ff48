package io.holdfast.client;

/** The session is gone (expired, closed, or declared lost by its local deadline). Every lease it held is invalid. */
public class SessionExpiredException extends HoldfastException {
  public SessionExpiredException(String message) {
    super(message);
  }

  public SessionExpiredException(String message, Throwable cause) {
    super(message, cause);
  }
}
