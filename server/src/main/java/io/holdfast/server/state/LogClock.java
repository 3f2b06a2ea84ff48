package io.holdfast.server.state;

/**
 * Time as the log tells it, without trusting any two servers' clocks to agree.
 *
 * <p>{@link #elapsedMs()} advances only by differences between stamps of the same term (one
 * leader's clock), never across a leader change. It therefore under-counts real time (the gap at
 * each failover is lost) and never jumps forward when a new leader's clock runs ahead. Session
 * expiry is computed from it, so a skewed leader can extend a session a little but never shorten
 * one. {@link #wallMs()} (the newest stamp seen) is for display only.
 *
 * <p>From apply rules 4 the gap is no longer lost whole: a new leader's first entry carries the time
 * that leader measured on its own clock from applying the previous term's last entry to stamping
 * it. That is a lower bound of the real gap (the previous stamps were made before they were
 * applied), so the clock still under-counts, but repeated failovers no longer stop it.
 */
public final class LogClock {
  private long elapsedMs;
  private long lastStampMs;
  private long lastStampTerm = -1;
  private long wallMs;

  void advance(long term, long stampMs, long carriedMs) {
    if (term == lastStampTerm) {
      if (stampMs > lastStampMs) {
        elapsedMs += stampMs - lastStampMs;
        lastStampMs = stampMs;
      }
    } else {
      lastStampTerm = term;
      lastStampMs = stampMs;
      elapsedMs += Math.max(0, carriedMs);
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
