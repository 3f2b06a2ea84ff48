package io.holdfast.server.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import io.holdfast.server.state.Command.Acquire;
import io.holdfast.server.state.Command.Checkpoint;
import io.holdfast.server.state.Command.OpenSession;
import io.holdfast.server.state.Command.Release;
import io.holdfast.server.statemachine.SnapshotCodec;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * Drives a {@link HoldfastState} the way the log does: owns the index counter, the current term
 * and the leader's clock, and keeps the events of the last applied entry. Test-only.
 */
public final class TestLog {
  public static final ClientInfo CLIENT =
      new ClientInfo("deployer", "node-7.example", 4242, new TreeMap<>(java.util.Map.of("team", "infra")));

  private final HoldfastState state;
  private long index;
  private long term = 1;
  private long timeMs = 1_700_000_000_000L;
  private final List<StateEvent> lastEvents = new ArrayList<>();
  private int requestCounter;

  public TestLog() {
    this(new HoldfastState());
  }

  public TestLog(HoldfastState state) {
    this.state = state;
    this.index = state.lastAppliedIndex();
  }

  /**
   * A driver for {@code other} (e.g. restored from this one's snapshot) that continues where this
   * one is: same next index, term, leader time and request id sequence.
   */
  public TestLog continueOn(HoldfastState other) {
    TestLog t = new TestLog(other);
    t.index = index;
    t.term = term;
    t.timeMs = timeMs;
    t.requestCounter = requestCounter;
    return t;
  }

  public HoldfastState state() {
    return state;
  }

  /** Applies {@code c} as the next entry, in the current term at the current leader time. */
  public Result apply(Command c) {
    return applyAt(term, timeMs, c);
  }

  public Result applyAt(long term, long leaderTimeMs, Command c) {
    return applyUnder(LogEntry.RULES, term, leaderTimeMs, c);
  }

  /** As an entry written under apply rules {@code rules} (an old entry replayed: 0). */
  public Result applyUnder(int rules, long term, long leaderTimeMs, Command c) {
    index++;
    this.term = term;
    this.timeMs = leaderTimeMs;
    lastEvents.clear();
    return state.apply(new LogEntry(index, term, leaderTimeMs, c, rules), lastEvents::add);
  }

  /** As a new leader's entry that carries {@code carriedMs} across the failover (LogEntry#carriedMs). */
  public Result applyCarrying(int rules, long term, long leaderTimeMs, long carriedMs, Command c) {
    index++;
    this.term = term;
    this.timeMs = leaderTimeMs;
    lastEvents.clear();
    return state.apply(new LogEntry(index, term, leaderTimeMs, c, rules, carriedMs), lastEvents::add);
  }

  /** The index the next {@link #apply} will use. */
  public long nextIndex() {
    return index + 1;
  }

  public long lastIndex() {
    return index;
  }

  public long term() {
    return term;
  }

  public long timeMs() {
    return timeMs;
  }

  /** Moves the leader's clock forward without writing an entry (the next entry carries it). */
  public void setTimeMs(long timeMs) {
    this.timeMs = timeMs;
  }

  /** The events of the last applied entry, in order. */
  public List<StateEvent> events() {
    return List.copyOf(lastEvents);
  }

  public <T extends StateEvent> List<T> events(Class<T> kind) {
    List<T> out = new ArrayList<>();
    for (StateEvent e : lastEvents) {
      if (kind.isInstance(e)) {
        out.add(kind.cast(e));
      }
    }
    return out;
  }

  public String newRequestId() {
    return "req-" + (++requestCounter);
  }

  // ---- shorthands ----------------------------------------------------------------------------

  public long open() {
    return open(10_000);
  }

  public long open(long ttlMs) {
    Result r = apply(new OpenSession(newRequestId(), ttlMs, CLIENT));
    return assertInstanceOf(Result.SessionOpened.class, r, "open session").sessionId();
  }

  /** Acquires a free lock and returns its token. */
  public long acquireFree(long sessionId, String lock) {
    Result r = apply(new Acquire(newRequestId(), sessionId, lock, 0));
    assertEquals(new Result.Granted(index), r, "acquire of free lock " + lock);
    return index;
  }

  public Result acquire(String requestId, long sessionId, String lock, long waitMs) {
    return apply(new Acquire(requestId, sessionId, lock, waitMs));
  }

  public Result release(long sessionId, String lock, long token) {
    return apply(new Release(newRequestId(), sessionId, lock, token));
  }

  /** An empty checkpoint {@code ms} later in the same term: moves the log's clock. */
  public Result advanceMs(long ms) {
    return applyAt(term, timeMs + ms, new Checkpoint(List.of()));
  }

  /** A checkpoint renewing {@code sessionIds}, at the current time. */
  public Result checkpoint(Long... sessionIds) {
    return apply(new Checkpoint(List.of(sessionIds)));
  }

  // ---- state comparisons ---------------------------------------------------------------------

  /** The full snapshot encoding. */
  public byte[] snapshot() {
    return SnapshotCodec.encode(state.image());
  }

  /**
   * The snapshot encoding without the last applied index and term, which every entry moves even
   * when it fails: what "the state did not change" compares.
   */
  public byte[] stateBytes() {
    StateImage i = state.image();
    return SnapshotCodec.encode(new StateImage(0, 0, i.clockElapsedMs(), i.clockLastStampMs(),
        i.clockLastStampTerm(), i.clockWallMs(), i.sessions(), i.locks(), i.recentOpens(), i.adminRequests(),
        i.audit(), i.kv(), i.kvRequests(), i.fencingEpoch()));
  }

  public List<Long> waiterSessions(String lock) {
    List<Long> out = new ArrayList<>();
    LockRecord l = state.lock(lock);
    if (l != null) {
      l.waiters().forEach(w -> out.add(w.sessionId()));
    }
    return out;
  }
}
