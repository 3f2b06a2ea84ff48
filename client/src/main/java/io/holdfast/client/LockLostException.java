package io.holdfast.client;

/** A lease's lock is no longer held by its session: the session expired, or the lock was released or taken away. */
public class LockLostException extends HoldfastException {
  public LockLostException(String message) {
    super(message);
  }

  public LockLostException(String message, Throwable cause) {
    super(message, cause);
  }
}
