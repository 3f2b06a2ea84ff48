package io.holdfast.chaos;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One history entry, one JSON line:
 * {@code {"t":<monotonic ns>,"proc":"w1","type":"invoke|ok|fail|info","f":"acquire","key":"L1","value":{...}}}.
 *
 * <p>{@code t} is {@link System#nanoTime()} of whichever JVM wrote the line. On Linux HotSpot reads
 * it from CLOCK_MONOTONIC, which is one clock for every process on the machine, so lines from the
 * harness and from every worker JVM can be merged and compared by {@code t}. (That holds only
 * because all processes run on one host; a multi-host run would need another clock.)
 *
 * <p>{@code type}: {@code invoke} starts an operation; {@code ok} it happened; {@code fail} it
 * definitely did not; {@code info} unknown. Entries that are not operations (nemesis actions, store
 * decisions, session changes) use {@code info} with their own {@code proc} ("nemesis", "store").
 */
public record Op(long t, String proc, String type, String f, String key, Map<String, Object> value) {
  public Op {
    value = value == null ? Map.of() : Map.copyOf(new LinkedHashMap<>(value));
  }

  public static Op parse(String line) {
    Map<String, Object> m = Json.parseObject(line);
    @SuppressWarnings("unchecked")
    Map<String, Object> v = (Map<String, Object>) m.get("value");
    return new Op(((Number) m.get("t")).longValue(), (String) m.get("proc"), (String) m.get("type"),
        (String) m.get("f"), (String) m.get("key"), v == null ? Map.of() : withoutNulls(v));
  }

  private static Map<String, Object> withoutNulls(Map<String, Object> v) {
    Map<String, Object> out = new LinkedHashMap<>();
    v.forEach((k, x) -> {
      if (x != null) {
        out.put(k, x);
      }
    });
    return out;
  }

  public String toJson() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("t", t);
    m.put("proc", proc);
    m.put("type", type);
    m.put("f", f);
    m.put("key", key);
    m.put("value", new java.util.TreeMap<>(value));
    return Json.write(m);
  }

  public boolean is(String type, String f) {
    return this.type.equals(type) && this.f.equals(f);
  }

  public long longValue(String name) {
    Object o = value.get(name);
    return o instanceof Number n ? n.longValue() : -1;
  }

  public String str(String name) {
    Object o = value.get(name);
    return o == null ? null : o.toString();
  }
}
