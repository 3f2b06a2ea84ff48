package io.holdfast.ops.bench;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The whole machine's CPU over a bench's measured window, from the {@code cpu} line of
 * {@code /proc/stat}. Steal is the point: on a shared virtual machine the hypervisor sometimes
 * takes a sixth of the cores for minutes, and a run in that window measures the neighbour (W2 at
 * 281 hand-offs/s with 16 % steal against 522-787 without, the same build). The report says so,
 * so that such a run is set aside rather than averaged in.
 */
record MachineCpu(long busy, long idle, long iowait, long steal) {
  /** Steal above this share of the window makes a run's figures not comparable with others. */
  static final double STEAL_WARN_PCT = 3.0;

  private static final Path PROC_STAT = Path.of("/proc/stat");

  /** The machine's counters now; empty where there is no Linux {@code /proc/stat}. */
  static Optional<MachineCpu> read() {
    try {
      for (String line : Files.readAllLines(PROC_STAT)) {
        if (line.startsWith("cpu ")) {
          return Optional.of(parse(line));
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux, or an unexpected layout: the report simply leaves the figures out
    }
    return Optional.empty();
  }

  /**
   * The aggregate line: {@code cpu user nice system idle iowait irq softirq steal [guest guest_nice]},
   * in clock ticks. Guest time is already counted in user and nice, so it is not added again.
   */
  static MachineCpu parse(String line) {
    String[] f = line.trim().split("\\s+");
    if (!f[0].equals("cpu") || f.length < 9) {
      throw new IllegalArgumentException("not the aggregate cpu line of /proc/stat: " + line);
    }
    long user = Long.parseLong(f[1]);
    long nice = Long.parseLong(f[2]);
    long system = Long.parseLong(f[3]);
    long idle = Long.parseLong(f[4]);
    long iowait = Long.parseLong(f[5]);
    long irq = Long.parseLong(f[6]);
    long softirq = Long.parseLong(f[7]);
    long steal = Long.parseLong(f[8]);
    return new MachineCpu(user + nice + system + irq + softirq, idle, iowait, steal);
  }

  /** Shares of the time between {@code this} and {@code later}, in per cent of all the cores. */
  Window until(MachineCpu later) {
    long busyD = later.busy - busy;
    long idleD = later.idle - idle;
    long iowaitD = later.iowait - iowait;
    long stealD = later.steal - steal;
    long total = busyD + idleD + iowaitD + stealD;
    if (total <= 0) {
      return new Window(0, 0, 0);
    }
    return new Window(pct(busyD, total), pct(iowaitD, total), pct(stealD, total));
  }

  private static double pct(long part, long total) {
    return Math.round(1000.0 * part / total) / 10.0;
  }

  /** Busy (user, system, interrupts), waiting on the disk, and taken by the hypervisor. */
  record Window(double busyPct, double iowaitPct, double stealPct) {
    boolean stolen() {
      return stealPct >= STEAL_WARN_PCT;
    }

    /** Adds the shares to {@code r}, and says on {@code err} when steal makes the run suspect. */
    void report(BenchReport r, PrintWriter err) {
      r.put("machine_cpu_busy_pct", busyPct).put("machine_cpu_iowait_pct", iowaitPct)
          .put("machine_cpu_steal_pct", stealPct);
      if (stolen()) {
        err.println("warning: the hypervisor took " + stealPct + " % of the machine's CPU in the measured "
            + "window (steal); this run's figures are not comparable with others");
        err.flush();
      }
    }
  }
}
