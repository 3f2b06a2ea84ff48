package io.holdfast.server.state;

/**
 * A queued acquire. {@code deadlineClockMs} is on the {@link LogClock}'s elapsed scale (0: none);
 * it is a backstop for callers that vanish without cancelling, the front door cancels on time.
 */
public record Waiter(long sessionId, String requestId, long queuedAtMs, long deadlineClockMs, long lockDelayMs,
    long maxHoldMs) {
  public Waiter(long sessionId, String requestId, long queuedAtMs, long deadlineClockMs) {
    this(sessionId, requestId, queuedAtMs, deadlineClockMs, 0, 0);
  }
}
