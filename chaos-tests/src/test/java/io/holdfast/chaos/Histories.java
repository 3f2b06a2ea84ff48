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

  Histories stored(String store, String key, long t, String writer, long token, boolean accepted) {
    history.add(new Op(t, "store", "info", "store-write", key,
        v("store", store, "seq", ++seq, "writer", writer, "token", token, "accepted", accepted)));
    return this;
  }
}
