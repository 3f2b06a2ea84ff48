package io.holdfast.chaos;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A run's history: every entry from the harness, the stores and the workers, merged by time. */
public final class History {
  private final List<Op> ops = new ArrayList<>();

  public History() {}

  public History(List<Op> ops) {
    this.ops.addAll(ops);
  }

  public synchronized void add(Op op) {
    ops.add(op);
  }

  /** Every entry, in time order (stable for equal times). */
  public synchronized List<Op> ops() {
    List<Op> copy = new ArrayList<>(ops);
    copy.sort(Comparator.comparingLong(Op::t));
    return copy;
  }

  /** An invoked operation and how it ended ({@code completion} null if it never did). */
  public record Operation(String proc, String f, String key, Op invoke, Op completion) {
    public boolean ok() {
      return completion != null && completion.type().equals("ok");
    }

    public String outcome() {
      return completion == null ? "info" : completion.type();
    }

    /** The completion's time, or Long.MAX_VALUE if it never completed. */
    public long endT() {
      return completion == null ? Long.MAX_VALUE : completion.t();
    }
  }

  /**
   * Pairs each invoke with the next entry of the same process and function that is not an invoke.
   * Workers are single-threaded, so a process has at most one operation open at a time.
   */
  public List<Operation> operations() {
    List<Operation> out = new ArrayList<>();
    Map<String, Integer> open = new HashMap<>();
    for (Op op : ops()) {
      if (op.type().equals("invoke")) {
        Integer previous = open.put(op.proc(), out.size());
        if (previous != null) {
          // a new invoke while one was open: the older one never completed
          Operation o = out.get(previous);
          out.set(previous, new Operation(o.proc(), o.f(), o.key(), o.invoke(), null));
        }
        out.add(new Operation(op.proc(), op.f(), op.key(), op, null));
      } else {
        Integer idx = open.get(op.proc());
        if (idx != null && out.get(idx).f().equals(op.f())) {
          Operation o = out.get(idx);
          out.set(idx, new Operation(o.proc(), o.f(), o.key(), o.invoke(), op));
          open.remove(op.proc());
        }
      }
    }
    return out;
  }

  public void write(Path file) {
    StringBuilder b = new StringBuilder();
    for (Op op : ops()) {
      b.append(op.toJson()).append('\n');
    }
    try {
      Files.writeString(file, b.toString(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static History read(Path file) {
    try {
      History h = new History();
      for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
        if (!line.isBlank()) {
          h.add(Op.parse(line));
        }
      }
      return h;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
