package io.holdfast.client;

/**
 * This session leads an {@link Election}: the grant's fencing token and the value it announced.
 * Valid while the session is; hand {@link #token()} to everything the leader writes.
 */
public interface Leadership extends AutoCloseable {
  String election();

  long token();

  String value();

  /** False once the session expired or the leadership was resigned or taken away. */
  boolean isValid();

  /**
   * Steps down: clears the announcement and releases the election's lock. The lock is released
   * even when clearing the announcement fails, and that failure is then thrown: the announcement
   * left behind names a grant that has ended, which {@link Election#leader} and
   * {@link Election#observe} do not count.
   */
  void resign();

  @Override
  default void close() {
    resign();
  }
}
