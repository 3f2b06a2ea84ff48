package io.holdfast.client;

/** A compare-and-set write found the key at another revision (or present / absent); nothing changed. */
public class RevisionMismatchException extends HoldfastException {
  public RevisionMismatchException(String message, Throwable cause) {
    super(message, cause);
  }
}
