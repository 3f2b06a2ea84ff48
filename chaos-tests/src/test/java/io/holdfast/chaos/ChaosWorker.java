package io.holdfast.chaos;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.InvalidArgumentException;
import io.holdfast.client.LockLease;
import io.holdfast.client.LockOptions;
import io.holdfast.client.LockLostException;
import io.holdfast.client.RetryPolicy;
import io.holdfast.client.Session;
import io.holdfast.client.SessionExpiredException;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Random;

/**
 * A client worker in its own JVM (so that the harness can SIGSTOP it as a whole: pausing a thread
 * would not do, the session's keepalive thread would keep the session alive). It loops on a few
 * lock names: acquire (waiting a while), check the lease is valid, hold briefly, write to the
 * fenced store, to the unfenced canary store and (a fenced put) to Holdfast's own KV with the
 * lease's token, release.
 *
 * <p>The validity check comes BEFORE the hold on purpose: that is the check-then-act race every
 * real client has (a pause between the check and the write), and the one the worker-pause nemesis
 * aims at. The fenced store must refuse the late write; the unfenced store will take it.
 *
 * <p>Every step is printed to stdout as one history line ({@link Op}) timed with
 * {@link System#nanoTime()} (CLOCK_MONOTONIC, shared by all processes on this host). Diagnostics
 * go to stderr. The worker stops on a "stop" line or end of input on stdin.
 *
 * <p>Every third acquire asks for a max hold as long as the holds it makes, so about half of those
 * grants are revoked by the cluster before their release. Whenever the lease says it is valid the
 * worker records {@code lease-valid} with {@code checked_t}, a time before the check: no other
 * grant of the key may have been answered by then ({@link LockSafetyChecker}).
 *
 * <p>Args: endpoints proc storeBaseUrl keys(comma) ttlMs seed holdMinMs holdMaxMs waitMs
 */
public final class ChaosWorker {
  private static final PrintStream OUT = System.out;
  private static volatile boolean stop;
  /** The session the loop uses now; the keepalive sampler follows it. */
  private static volatile Session current;

  private ChaosWorker() {}

  static synchronized void emit(String proc, String type, String f, String key, Map<String, Object> value) {
    OUT.println(new Op(System.nanoTime(), proc, type, f, key, value).toJson());
    OUT.flush();
  }

  private static Map<String, Object> v(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i + 1 < kv.length; i += 2) {
      if (kv[i + 1] != null) {
        m.put((String) kv[i], kv[i + 1]);
      }
    }
    return m;
  }

  private static String error(Throwable e) {
    return e.getClass().getSimpleName() + ": " + e.getMessage();
  }

  public static void main(String[] args) throws Exception {
    String endpoints = args[0];
    String proc = args[1];
    String store = args[2];
    String[] keys = args[3].split(",");
    long ttlMs = Long.parseLong(args[4]);
    Random random = new Random(Long.parseLong(args[5]));
    long holdMin = Long.parseLong(args[6]);
    long holdMax = Long.parseLong(args[7]);
    Duration wait = Duration.ofMillis(Long.parseLong(args[8]));

    Thread stdin = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          if (line.trim().equals("stop")) {
            break;
          }
        }
      } catch (Exception ignored) {
        // treat as stop
      }
      stop = true;
    }, "stdin");
    stdin.setDaemon(true);
    stdin.start();

    HoldfastClient client = HoldfastClient.builder().endpoints(endpoints).clientName(proc)
        .callTimeout(Duration.ofSeconds(2))
        .retryPolicy(RetryPolicy.exponentialJitter(Duration.ofMillis(50), Duration.ofSeconds(1), Duration.ofSeconds(10)))
        .build();
    Thread sampler = new Thread(() -> sampleKeepalives(proc, ttlMs), "keepalive-sampler");
    sampler.setDaemon(true);
    sampler.start();
    Session session = null;
    long n = 0;
    while (!stop) {
      if (session == null || !session.isValid()) {
        if (session != null) {
          sessionLost(proc, session);
          Session old = session;
          old.closeAsync().exceptionally(e -> null);
          session = null;
        }
        emit(proc, "invoke", "open-session", null, v());
        try {
          session = client.newSession(Duration.ofMillis(ttlMs));
          current = session;
          emit(proc, "ok", "open-session", null, v("session", session.id(), "ttl_ms", ttlMs));
        } catch (RuntimeException e) {
          emit(proc, "info", "open-session", null, v("error", error(e)));
          Thread.sleep(200);
        }
        continue;
      }
      String key = keys[random.nextInt(keys.length)];
      long maxHoldMs = random.nextInt(3) == 0 ? holdMin + (long) (random.nextDouble() * (holdMax - holdMin)) : 0;
      emit(proc, "invoke", "acquire", key, v("session", session.id(), "max_hold_ms", maxHoldMs));
      LockLease lease;
      try {
        Optional<LockLease> got = lock(session, key, wait, maxHoldMs);
        if (got.isEmpty()) {
          emit(proc, "fail", "acquire", key, v("session", session.id(), "error", "wait timed out"));
          continue;
        }
        lease = got.get();
      } catch (InvalidArgumentException e) {
        emit(proc, "fail", "acquire", key, v("session", session.id(), "error", error(e)));
        continue;
      } catch (SessionExpiredException e) {
        // The client gives up a wait at its own deadline, before the cluster's: the acquire may
        // still have been granted, so its outcome is unknown.
        emit(proc, "info", "acquire", key, v("session", session.id(), "error", error(e)));
        continue;
      } catch (RuntimeException e) {
        emit(proc, "info", "acquire", key, v("session", session.id(), "error", error(e)));
        continue;
      }
      long token = lease.token();
      emit(proc, "ok", "acquire", key, v("session", session.id(), "token", token));
      if (!checkValid(proc, session, key, lease)) {
        emit(proc, "info", "lease-invalid", key, v("session", session.id(), "token", token));
      } else {
        Thread.sleep(holdMin + (long) (random.nextDouble() * (holdMax - holdMin)));
        String value = proc + "-" + (++n);
        write(proc, store, "fenced", key, token, value);
        write(proc, store, "unfenced", key, token, value);
        kvWrite(client, proc, lease, value);
        // Observed only, after the hold and the writes: where a lease outliving its grant would show.
        checkValid(proc, session, key, lease);
      }
      emit(proc, "invoke", "release", key, v("session", session.id(), "token", token));
      try {
        lease.close();
        // A release still unanswered at the session's local deadline ends without an error: whether
        // it reached the cluster is unknown.
        emit(proc, session.isValid() ? "ok" : "info", "release", key, v("session", session.id(), "token", token));
      } catch (LockLostException | SessionExpiredException e) {
        emit(proc, "fail", "release", key, v("session", session.id(), "token", token, "error", error(e)));
      } catch (RuntimeException e) {
        emit(proc, "info", "release", key, v("session", session.id(), "token", token, "error", error(e)));
      }
    }
    if (session != null) {
      if (!session.isValid()) {
        sessionLost(proc, session);
      }
      try {
        session.close();
      } catch (RuntimeException e) {
        System.err.println("closing session: " + error(e));
      }
    }
    emit(proc, "info", "exit", null, v());
    try {
      client.close();
    } catch (RuntimeException ignored) {
      // exiting anyway
    }
    System.exit(0);
  }

  /** {@link LockLease#isValid()}, recorded when true with a time taken before the check. */
  private static boolean checkValid(String proc, Session session, String key, LockLease lease) {
    long checkedT = System.nanoTime();
    boolean valid = lease.isValid();
    if (valid) {
      emit(proc, "info", "lease-valid", key, v("session", session.id(), "token", lease.token(), "checked_t", checkedT));
    }
    return valid;
  }

  private static Optional<LockLease> lock(Session session, String key, Duration wait, long maxHoldMs)
      throws InterruptedException {
    if (maxHoldMs == 0) {
      return session.lock(key, wait);
    }
    var acquire = session.lockAsync(key, LockOptions.waitUpTo(wait).withMaxHold(Duration.ofMillis(maxHoldMs)));
    try {
      return acquire.get();
    } catch (InterruptedException e) {
      acquire.cancel(true); // as the blocking call does: withdrawn, and a grant that raced in given back
      throw e;
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw new IllegalStateException(e.getCause());
    }
  }

  /**
   * Records that this worker's client gave {@code s} up. {@code given_up_t} is when it did: the
   * moment its local validity ended (frozen there once the client declares the session expired),
   * or now if that is still ahead. The worker closes a session it gives up (and a client closes
   * one that held nothing at once), so its locks may pass on from then, although the loop may
   * notice only seconds later (blocked in a write or a release).
   */
  private static void sessionLost(String proc, Session s) {
    long until = validUntilNanos(s);
    emit(proc, "info", "session-lost", null, v("session", s.id(), "state", s.state().name(), "given_up_t",
        Math.min(System.nanoTime(), until)));
  }

  /** {@link Session#validUntil()} on the nanoTime scale; a read can only come out a little early. */
  private static long validUntilNanos(Session s) {
    long before = System.nanoTime();
    java.time.Instant until = s.validUntil();
    return before + Duration.between(java.time.Instant.now(), until).toNanos();
  }

  /**
   * The client does not report single keepalives, but its local deadline moves exactly when one is
   * acknowledged: {@code validUntil = send time of the newest acknowledged keepalive + TTL - margin}
   * (the session's open counts as one). Every 10 ms this reads the deadline and, when it moved,
   * records {@code f:"keepalive"} with {@code ack_sent_t}, the send time it implies. The reading
   * can only be late by a few microseconds, which makes {@code ack_sent_t} slightly early: the
   * checkers that use it err on the lenient side.
   */
  private static void sampleKeepalives(String proc, long ttlMs) {
    long ttl = Duration.ofMillis(ttlMs).toNanos();
    long margin = SessionFacts.clientMarginNanos(ttl);
    Session seen = null;
    long last = Long.MIN_VALUE;
    while (!stop) {
      Session s = current;
      if (s != null) {
        long untilNanos = validUntilNanos(s);
        if (s != seen) {
          seen = s;
          last = Long.MIN_VALUE;
        }
        if ((last == Long.MIN_VALUE || untilNanos - last > 1_000_000) && s.isValid()) {
          last = untilNanos;
          emit(proc, "info", "keepalive", null, v("session", s.id(), "ttl_ms", ttlMs, "valid_until_t", untilNanos,
              "ack_sent_t", untilNanos - ttl + margin));
        }
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  private static void write(String proc, String store, String which, String key, long token, String value) {
    emit(proc, "invoke", "write", key, v("store", which, "token", token, "value", value));
    try {
      String url = store + "/write/" + which + "?key=" + enc(key) + "&token=" + token + "&writer=" + enc(proc)
          + "&value=" + enc(value);
      HttpURLConnection c = (HttpURLConnection) URI.create(url).toURL().openConnection();
      c.setConnectTimeout(2_000);
      c.setReadTimeout(2_000);
      int status = c.getResponseCode();
      c.disconnect();
      if (status == 200) {
        emit(proc, "ok", "write", key, v("store", which, "token", token, "accepted", true));
      } else if (status == 409) {
        emit(proc, "fail", "write", key, v("store", which, "token", token, "error", "stale token refused"));
      } else {
        emit(proc, "info", "write", key, v("store", which, "token", token, "error", "http " + status));
      }
    } catch (Exception e) {
      emit(proc, "info", "write", key, v("store", which, "token", token, "error", error(e)));
    }
  }

  /** The KV key a lock's holders write with the lock's token: {@code <lock>/value}. */
  static String kvKey(String lock) {
    return lock + "/value";
  }

  /**
   * A fenced put on Holdfast's own KV ({@link io.holdfast.client.KvClient#putFenced}): the server
   * applies it only while {@code lease} is the lock's current grant. Recorded with {@code store:"kv"}
   * under the lock's name: ok (applied), fail (refused: stale token, or a bad argument; nothing
   * changed), info (unknown: it may have been applied, now or later).
   */
  static void kvWrite(HoldfastClient client, String proc, LockLease lease, String value) {
    String key = lease.name();
    long token = lease.token();
    emit(proc, "invoke", "write", key, v("store", "kv", "kv_key", kvKey(key), "token", token, "value", value));
    try {
      long revision = client.kv().putFenced(kvKey(key), value.getBytes(StandardCharsets.UTF_8), lease);
      emit(proc, "ok", "write", key, v("store", "kv", "token", token, "revision", revision));
    } catch (io.holdfast.client.StaleTokenException e) {
      emit(proc, "fail", "write", key, v("store", "kv", "token", token, "error", "stale token refused", "detail",
          error(e)));
    } catch (InvalidArgumentException | io.holdfast.client.PermissionDeniedException e) {
      emit(proc, "fail", "write", key, v("store", "kv", "token", token, "error", error(e)));
    } catch (RuntimeException e) {
      emit(proc, "info", "write", key, v("store", "kv", "token", token, "error", error(e)));
    }
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }
}
