package io.holdfast.client;

/**
 * The cluster refused the call because a configured limit was reached: sessions per identity or
 * in all, locks per session, waiters per lock, the KV store's size, a value's size, or a rate
 * limit. Nothing changed; the same call may go through once the limit is no longer reached (a
 * session closed, a lock released), and retrying at once will not help.
 *
 * <pre>{@code
 * try {
 *   lease = session.lock("jobs/" + id);
 * } catch (LimitExceededException e) {
 *   log.warn("too many locks held: {}", e.getMessage()); // release some, or raise the limit
 * }
 * }</pre>
 */
public class LimitExceededException extends HoldfastException {
  public LimitExceededException(String message, Throwable cause) {
    super(message, cause);
  }
}
