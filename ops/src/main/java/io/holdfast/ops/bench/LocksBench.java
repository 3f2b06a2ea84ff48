package io.holdfast.ops.bench;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.LockLease;
import io.holdfast.client.LockLostException;
import io.holdfast.client.Session;
import io.holdfast.client.SessionExpiredException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * W1 (each client its own lock) and W2 ({@code --shared}: every client on one lock) on Holdfast,
 * through the client library: each client its own session and thread, the sessions spread over a
 * few client instances.
 */
@Command(name = "locks", mixinStandardHelpOptions = true,
    description = "Acquire + release in a closed loop: ops/s, latency percentiles, fairness (--shared), and a "
        + "check that no two holders overlapped and tokens only grew (a violation fails the run).",
    footer = {"", "Examples:", "  holdfast bench locks --local 3 --clients 16 --duration 30s",
        "  holdfast bench locks --endpoints 127.0.0.1:7400 --clients 16 --shared -o json"})
final class LocksBench extends HoldfastWorkload {
  @Mixin
  LockLoop loop;

  @Override
  String optionProblem() {
    return loop.problem();
  }

  @Override
  BenchReport run(BenchTarget.Target t, PrintWriter err) throws Exception {
    List<HoldfastClient> instances = new ArrayList<>();
    List<Session> sessions = new ArrayList<>();
    try {
      for (int i = 0; i < Math.min(loop.connections, loop.clients); i++) {
        instances.add(t.client("bench-locks-" + i, Duration.ofSeconds(5)));
      }
      List<Locker> lockers = new ArrayList<>();
      for (int c = 0; c < loop.clients; c++) {
        Session s = instances.get(c % instances.size()).newSession(loop.ttl);
        sessions.add(s);
        lockers.add(new SessionLocker(s));
      }
      BenchReport r = new BenchReport(loop.workload());
      loop.run(r, lockers, instances.size(), err);
      return r;
    } finally {
      sessions.forEach(s -> {
        try {
          s.close();
        } catch (RuntimeException ignored) {
          // the run is over; an expired session has nothing to close
        }
      });
      instances.forEach(HoldfastClient::close);
    }
  }

  /** A Holdfast session as the loop's locker. */
  static final class SessionLocker implements Locker {
    private final Session session;
    private LockLease lease;

    SessionLocker(Session session) {
      this.session = session;
    }

    @Override
    public long sessionId() {
      return session.id();
    }

    @Override
    public long lock(String name) throws Exception {
      try {
        lease = session.lock(name);
        return lease.token();
      } catch (SessionExpiredException e) {
        throw new SessionLostException("session " + session.id() + " expired", e);
      }
    }

    @Override
    public void unlock() throws LostException, SessionLostException {
      try {
        lease.close();
      } catch (LockLostException e) {
        if (!session.isValid()) {
          // The lock went with its session: counted as the session's loss, not as the lock's.
          throw new SessionLostException("session " + session.id() + " expired", e);
        }
        throw new LostException("session " + session.id() + " lost " + lease.name() + " (token " + lease.token()
            + "): " + e.getMessage(), e);
      }
    }
  }
}
