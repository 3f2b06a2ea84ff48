package io.holdfast.server.state;

import java.util.TreeSet;

/** A live session in the replicated state. Mutated only by {@link HoldfastState} during apply. */
public final class SessionRecord {
  /**
   * A session's last answers, by count only. Its retries mostly meet the state first (an acquire
   * whose grant is still held or whose wait is still queued answers from the lock), and keeping
   * two minutes of a busy session's answers cost W1 at 64 clients a sixth of its rate (every
   * entry outlived the young generation).
   */
  static final int REQUEST_CACHE_SIZE = 64;

  private final long id;
  private final long ttlMs;
  private final ClientInfo client;
  private final long createdAtMs;
  private final String exclusiveKey;
  private long renewedAtMs;
  private long renewedAtClockMs;
  private long renewedIndex;
  final TreeSet<String> heldLocks = new TreeSet<>();
  final TreeSet<String> waitingOn = new TreeSet<>();
  final RequestCache requests = new RequestCache(REQUEST_CACHE_SIZE, REQUEST_CACHE_SIZE);

  SessionRecord(long id, long ttlMs, ClientInfo client, long createdAtMs, String exclusiveKey) {
    this.id = id;
    this.ttlMs = ttlMs;
    this.client = client;
    this.createdAtMs = createdAtMs;
    this.exclusiveKey = exclusiveKey;
  }

  /** The identity key this session holds exclusively ("" for none). */
  public String exclusiveKey() {
    return exclusiveKey;
  }

  void renew(long index, long wallMs, long clockMs) {
    this.renewedIndex = index;
    this.renewedAtMs = wallMs;
    this.renewedAtClockMs = clockMs;
  }

  public long id() {
    return id;
  }

  public long ttlMs() {
    return ttlMs;
  }

  public ClientInfo client() {
    return client;
  }

  public long createdAtMs() {
    return createdAtMs;
  }

  /** Leader wall-clock time of the last committed renewal (display only). */
  public long renewedAtMs() {
    return renewedAtMs;
  }

  /** {@link LogClock#elapsedMs()} at the last committed renewal. */
  public long renewedAtClockMs() {
    return renewedAtClockMs;
  }

  /** Log index of the last committed renewal; an expiry must name it to take effect. */
  public long renewedIndex() {
    return renewedIndex;
  }
}
