package io.holdfast.server.state;

/**
 * Time as the log tells it, without trusting any two servers' clocks to agree.
 *
 * <p>{@link #elapsedMs()} advances only by differences between stamps of the same term (one
 * leader's clock), never across a leader change. It therefore under-counts real time (the gap at
 * each failover is lost) and never jumps forward when a new leader's clock runs ahead. Session
 * expiry is computed from it, so a skewed leader can extend a session a little but never shorten
 * one. {@link #wallMs()} (the newest stamp seen) is for display only.
 */
public final class LogClock {
  private long elapsedMs;
  private long lastStampMs;
  private long lastStampTerm = -1;
  private long wallMs;

  void advance(long term, long stampMs) {
    if (term == lastStampTerm) {
      if (stampMs > lastStampMs) {
        elapsedMs += stampMs - lastStampMs;
        lastStampMs = stampMs;
      }
    } else {
      lastStampTerm = term;
      lastStampMs = stampMs;
    }
    wallMs = Math.max(wallMs, stampMs);
  }

  public long elapsedMs() {
    return elapsedMs;
  }

  public long wallMs() {
    return wallMs;
  }

  long lastStampMs() {
    return lastStampMs;
  }

  long lastStampTerm() {
    return lastStampTerm;
  }

  void restore(long elapsedMs, long lastStampMs, long lastStampTerm, long wallMs) {
    this.elapsedMs = elapsedMs;
    this.lastStampMs = lastStampMs;
    this.lastStampTerm = lastStampTerm;
    this.wallMs = wallMs;
  }
}
