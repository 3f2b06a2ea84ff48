package io.holdfast.server.security;

import org.slf4j.Logger;

/**
 * Logs a kind of warning that callers can cause at will (a refused login, a denied call) at most
 * {@code perWindow} times per window, then once more per window with the count left unlogged: a
 * client looping on a bad token must not fill the disk, and the first lines still say who it is.
 * The counters (metrics) count every one. Thread-safe.
 */
public final class WarningBudget {
  private final Logger log;
  private final int perWindow;
  private final long windowNanos;
  private long windowStart = System.nanoTime();
  private int logged;
  private long suppressed;

  public WarningBudget(Logger log, int perWindow, long windowMillis) {
    this.log = log;
    this.perWindow = perWindow;
    this.windowNanos = windowMillis * 1_000_000L;
  }

  /** Logs {@code format} with {@code args} at WARN if this window's budget allows. */
  public void warn(String format, Object... args) {
    log(false, format, args);
  }

  /** As {@link #warn}, at INFO: for events that are the system working (a stale token refused). */
  public void info(String format, Object... args) {
    log(true, format, args);
  }

  private void log(boolean info, String format, Object... args) {
    long unlogged;
    synchronized (this) {
      long now = System.nanoTime();
      unlogged = 0;
      if (now - windowStart >= windowNanos) {
        unlogged = suppressed;
        windowStart = now;
        logged = 0;
        suppressed = 0;
      }
      if (logged >= perWindow) {
        suppressed++;
        return;
      }
      logged++;
    }
    String more = "... and {} more like the lines above in the last {} s, not logged";
    if (info) {
      if (unlogged > 0) {
        log.info(more, unlogged, windowNanos / 1_000_000_000L);
      }
      log.info(format, args);
    } else {
      if (unlogged > 0) {
        log.warn(more, unlogged, windowNanos / 1_000_000_000L);
      }
      log.warn(format, args);
    }
  }

  /** Lines left unlogged in the current window (for tests). */
  synchronized long suppressed() {
    return suppressed;
  }
}
