package io.holdfast.server.state;

import io.holdfast.server.state.Command.Acquire;
import io.holdfast.server.state.Command.CancelWait;
import io.holdfast.server.state.Command.Checkpoint;
import io.holdfast.server.state.Command.CloseSession;
import io.holdfast.server.state.Command.ExpireSession;
import io.holdfast.server.state.Command.OpenSession;
import io.holdfast.server.state.Command.Release;
import io.holdfast.server.statemachine.SnapshotCodec;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;

/**
 * A seeded, random but plausible command log: a few sessions contending for a few locks, with
 * retries, stale and wrong requests, expiries (current and superseded), checkpoints, clock steps
 * backwards, index gaps and leader changes. The generator consults its own replica to pick
 * arguments that mostly make sense, and records what that replica answered. Test-only.
 */
public final class RandomCommandLog {
  /** One entry, with the result and events the generating replica produced. */
  public record Step(LogEntry entry, Result result, List<StateEvent> events) {}

  public record Generated(List<Step> steps, byte[] finalSnapshot) {
    public List<LogEntry> entries() {
      return steps.stream().map(Step::entry).toList();
    }
  }

  private static final String[] LOCKS = {"a", "b", "svc/db:primary", "jobs/nightly.report"};
  private static final String[] CLIENT_NAMES = {"deployer", "agent", "cron"};

  private final Random rnd;
  private final HoldfastState model = new HoldfastState();
  private final List<Command> history = new ArrayList<>();
  private final List<OpenSession> opens = new ArrayList<>();
  private long index;
  private long term = 1;
  private long timeMs = 1_700_000_000_000L;
  private int requestCounter;

  private RandomCommandLog(long seed) {
    this.rnd = new Random(seed);
  }

  public static Generated generate(long seed, int count) {
    RandomCommandLog g = new RandomCommandLog(seed);
    List<Step> steps = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      steps.add(g.next());
    }
    return new Generated(List.copyOf(steps), SnapshotCodec.encode(g.model.image()));
  }

  private Step next() {
    // Ratis leaves gaps for its own entries (configuration, a new leader's first entry).
    index += 1 + (rnd.nextInt(8) == 0 ? rnd.nextInt(3) : 0);
    int t = rnd.nextInt(100);
    if (t < 2) {
      term += 1 + rnd.nextInt(2);
      timeMs += rnd.nextInt(120_000) - 20_000;
    } else if (t < 5) {
      timeMs -= rnd.nextInt(500);
    } else if (t < 10) {
      // A quiet spell: long enough for forgotten waiters to run out.
      timeMs += 2_000 + rnd.nextInt(6_000);
    } else {
      timeMs += rnd.nextInt(400);
    }
    Command c = command();
    LogEntry e = new LogEntry(index, term, timeMs, c);
    List<StateEvent> events = new ArrayList<>();
    Result r = model.apply(e, events::add);
    if (!(c instanceof ExpireSession) && !(c instanceof Checkpoint)) {
      history.add(c);
    }
    return new Step(e, r, List.copyOf(events));
  }

  private String rid() {
    return "r" + (++requestCounter);
  }

  private <T> T pick(List<T> list) {
    return list.get(rnd.nextInt(list.size()));
  }

  private String anyLock() {
    return rnd.nextInt(40) == 0 ? "bad//name" : LOCKS[rnd.nextInt(LOCKS.length)];
  }

  /** A live session's id mostly, now and then one that is gone or never was. */
  private long anySession(List<SessionRecord> live) {
    if (live.isEmpty() || rnd.nextInt(25) == 0) {
      return 1 + rnd.nextInt((int) Math.max(1, index));
    }
    return pick(live).id();
  }

  private <T extends Command> T previous(Class<T> kind) {
    for (int tries = 0; tries < 20 && !history.isEmpty(); tries++) {
      Command c = history.get(Math.max(0, history.size() - 1 - rnd.nextInt(60)));
      if (kind.isInstance(c)) {
        return kind.cast(c);
      }
    }
    return null;
  }

  private Command command() {
    List<SessionRecord> live = new ArrayList<>(model.sessions());
    int k = rnd.nextInt(100);
    if (live.size() < 2 || (k < 8 && live.size() < 8)) {
      return open();
    }
    if (k < 11) {
      return new CloseSession(rid(), anySession(live));
    }
    if (k < 19) {
      SessionRecord s = pick(live);
      long basis = rnd.nextInt(10) < 6 ? s.renewedIndex() : s.renewedIndex() - 1 - rnd.nextInt(5);
      return new ExpireSession(s.id(), basis);
    }
    if (k < 35) {
      List<Long> ids = new ArrayList<>();
      for (SessionRecord s : live) {
        if (rnd.nextInt(3) > 0) {
          ids.add(s.id());
        }
      }
      if (rnd.nextInt(10) == 0) {
        ids.add(index + 1_000);
      }
      return new Checkpoint(ids);
    }
    if (k < 65) {
      return acquire(live);
    }
    if (k < 85) {
      return release(live);
    }
    return cancel(live);
  }

  private Command open() {
    int k = rnd.nextInt(10);
    if (k == 0 && !opens.isEmpty()) {
      return pick(opens);
    }
    if (k == 1 && !opens.isEmpty()) {
      OpenSession o = pick(opens);
      return new OpenSession(o.requestId(), o.ttlMs() + 1_000, o.client());
    }
    TreeMap<String, String> labels = new TreeMap<>();
    if (rnd.nextBoolean()) {
      labels.put("zone", "z" + rnd.nextInt(3));
      labels.put("app", "svc" + rnd.nextInt(2));
    }
    ClientInfo client = new ClientInfo(CLIENT_NAMES[rnd.nextInt(CLIENT_NAMES.length)], "host-" + rnd.nextInt(4),
        1000 + rnd.nextInt(50), labels);
    long ttl = new long[] {3_000, 10_000, 30_000}[rnd.nextInt(3)];
    OpenSession o = new OpenSession("open-" + rid(), rnd.nextInt(50) == 0 ? 0 : ttl, client);
    opens.add(o);
    return o;
  }

  private Command acquire(List<SessionRecord> live) {
    if (rnd.nextInt(100) < 15) {
      Acquire retry = previous(Acquire.class);
      if (retry != null) {
        // A retry may shorten its remaining wait.
        long wait = retry.waitMs() > 0 ? Math.max(1, retry.waitMs() - rnd.nextInt(500)) : retry.waitMs();
        return new Acquire(retry.requestId(), retry.sessionId(), retry.lockName(), wait);
      }
    }
    long wait = switch (rnd.nextInt(5)) {
      case 0, 1 -> 0;
      case 2 -> -1;
      case 3 -> rnd.nextInt(60) == 0 ? -7 : 500 + rnd.nextInt(4_500);
      default -> 500 + rnd.nextInt(4_500);
    };
    return new Acquire(rid(), anySession(live), anyLock(), wait);
  }

  private Command release(List<SessionRecord> live) {
    if (rnd.nextInt(100) < 15) {
      Release retry = previous(Release.class);
      if (retry != null) {
        return retry;
      }
    }
    SessionRecord s = pick(live);
    List<String> held = model.heldLocks(s.id());
    if (!held.isEmpty() && rnd.nextInt(100) < 85) {
      LockRecord lock = model.lock(pick(held));
      long token = rnd.nextInt(10) == 0 ? lock.token() - 1 : lock.token();
      return new Release(rid(), s.id(), lock.name(), token);
    }
    String name = anyLock();
    LockRecord lock = model.lock(name);
    // Some say they are resent (from the name, not the generator, so the histories stay as they were).
    return new Release(rid(), anySession(live), name, lock != null ? lock.token() : 1 + rnd.nextInt(100),
        (name.hashCode() & 3) == 0);
  }

  private Command cancel(List<SessionRecord> live) {
    if (rnd.nextInt(100) < 10) {
      CancelWait retry = previous(CancelWait.class);
      if (retry != null) {
        return retry;
      }
    }
    SessionRecord s = pick(live);
    boolean releaseIfGranted = rnd.nextInt(4) > 0;
    // Prefer something the session actually waits for or was granted.
    List<String[]> candidates = new ArrayList<>();
    for (String name : LOCKS) {
      LockRecord lock = model.lock(name);
      if (lock == null) {
        continue;
      }
      if (lock.holderSessionId() == s.id()) {
        candidates.add(new String[] {name, lock.grantRequestId()});
      }
      for (Waiter w : lock.waiters()) {
        if (w.sessionId() == s.id()) {
          candidates.add(new String[] {name, w.requestId()});
        }
      }
    }
    if (candidates.isEmpty() || rnd.nextInt(10) == 0) {
      return new CancelWait(rid(), s.id(), anyLock(), rnd.nextBoolean() ? "" : "r-nope", releaseIfGranted);
    }
    String[] c = pick(candidates);
    return new CancelWait(rid(), s.id(), c[0], rnd.nextInt(5) == 0 ? "" : c[1], releaseIfGranted);
  }
}
