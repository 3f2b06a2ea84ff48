package io.holdfast.chaos;

import java.util.LinkedHashMap;
import java.util.Map;

/** Builds hand-made histories for the checkers' self-tests. Times are plain numbers. */
final class Histories {
  private final History history = new History();
  private long seq;

  History build() {
    return history;
  }

  private static Map<String, Object> v(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i + 1 < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return m;
  }

  Histories acquire(String proc, String key, long invokeT, long okT, long token) {
    history.add(new Op(invokeT, proc, "invoke", "acquire", key, v()));
    history.add(new Op(okT, proc, "ok", "acquire", key, v("token", token)));
    return this;
  }

  /** An acquire that asked for a max hold of {@code maxHoldMs}. */
  Histories acquireWithMaxHold(String proc, String key, long invokeT, long okT, long token, long maxHoldMs) {
    history.add(new Op(invokeT, proc, "invoke", "acquire", key, v("max_hold_ms", maxHoldMs)));
    history.add(new Op(okT, proc, "ok", "acquire", key, v("token", token)));
    return this;
  }

  Histories acquireFailed(String proc, String key, long invokeT, long failT) {
    history.add(new Op(invokeT, proc, "invoke", "acquire", key, v()));
    history.add(new Op(failT, proc, "fail", "acquire", key, v("error", "wait timed out")));
    return this;
  }

  Histories release(String proc, String key, long invokeT, long endT, long token, String type) {
    history.add(new Op(invokeT, proc, "invoke", "release", key, v("token", token)));
    history.add(new Op(endT, proc, type, "release", key, v("token", token)));
    return this;
  }

  Histories write(String proc, String key, long invokeT, long endT, long token, String type) {
    history.add(new Op(invokeT, proc, "invoke", "write", key, v("store", "fenced", "token", token)));
    history.add(new Op(endT, proc, type, "write", key, v("store", "fenced", "token", token)));
    return this;
  }

  /** A fenced KV put ({@code type} ok, fail = refused as stale, info); value = proc-token. */
  Histories kvWrite(String proc, String key, long invokeT, long endT, long token, String type) {
    history.add(new Op(invokeT, proc, "invoke", "write", key, v("store", "kv", "token", token, "value",
        proc + "-" + token)));
    if (type != null) {
      history.add(new Op(endT, proc, type, "write", key, type.equals("fail")
          ? v("store", "kv", "token", token, "error", "stale token refused") : v("store", "kv", "token", token)));
    }
    return this;
  }

  /** The final KV read: the stored token and value ({@code token} 0: absent). */
  Histories kvRead(String key, long t, long token, String value) {
    history.add(new Op(t, "final", "invoke", "kv-read", key, v()));
    history.add(new Op(t + 1, "final", "ok", "kv-read", key, token == 0 ? v("found", false)
        : v("found", true, "token", token, "value", value)));
    return this;
  }

  /** The worker's lease said it was valid, checked after {@code checkedT}. */
  Histories leaseValid(String proc, String key, long checkedT, long token) {
    history.add(new Op(checkedT + 1, proc, "info", "lease-valid", key, v("token", token, "checked_t", checkedT)));
    return this;
  }

  /** Info acquire: invoked, never answered for sure. */
  Histories acquireUnknown(String proc, String key, long invokeT, long infoT) {
    history.add(new Op(invokeT, proc, "invoke", "acquire", key, v()));
    history.add(new Op(infoT, proc, "info", "acquire", key, v("error", "deadline exceeded")));
    return this;
  }

  /** The worker saw a keepalive sent at {@code sentT} acknowledged (recorded at {@code t}). */
  Histories keepalive(String proc, long t, long sentT, long ttlMs) {
    history.add(new Op(t, proc, "info", "keepalive", null, v("ttl_ms", ttlMs, "ack_sent_t", sentT)));
    return this;
  }

  /** The worker noticed at {@code t} that its client gave the session up at {@code givenUpT}. */
  Histories sessionLost(String proc, long t, long givenUpT) {
    history.add(new Op(t, proc, "info", "session-lost", null, v("state", "EXPIRED", "given_up_t", givenUpT)));
    return this;
  }

  Histories nemesis(String f, String target, long t, Object... kv) {
    history.add(new Op(t, "nemesis", "info", f, target, v(kv)));
    return this;
  }

  Histories stored(String store, String key, long t, String writer, long token, boolean accepted) {
    history.add(new Op(t, "store", "info", "store-write", key,
        v("store", store, "seq", ++seq, "writer", writer, "token", token, "accepted", accepted)));
    return this;
  }
}
