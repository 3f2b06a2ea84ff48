package io.holdfast.chaos;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The faults of one run, drawn from one seed before the run starts. Faults come one at a time:
 * each starts at {@code atMs} after the operations began, lasts {@code durationMs}, is healed, and
 * the next starts after a gap. Targets are chosen when the fault fires (which node leads is not
 * known in advance) from {@code targetChoice}, a number drawn from the seed: for a follower, which
 * of the followers in node order; for a worker, which worker.
 */
public record Schedule(long seed, Profile profile, List<Fault> faults, boolean forcedWorkerPause) {
  public enum Kind { KILL_LEADER, KILL_FOLLOWER, PAUSE_LEADER, PAUSE_WORKER }

  public record Fault(int index, Kind kind, long atMs, long durationMs, int targetChoice) {
    Map<String, Object> toMap() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("index", index);
      m.put("kind", kind.name());
      m.put("at_ms", atMs);
      m.put("duration_ms", durationMs);
      m.put("target_choice", targetChoice);
      return m;
    }
  }

  /** The run's shape; durations follow from the cluster's timing settings. */
  public record Profile(int nodes, int workers, long opsMs, long firstFaultMs, long minGapMs, long maxGapMs,
      long electionTimeoutMaxMs, long sessionTtlMs) {
    public static Profile defaults() {
      return new Profile(3, 3, 75_000, 8_000, 4_000, 7_000, 2_000, 6_000);
    }

    /** A paused leader must be replaced (> election timeout) while sessions live on (< TTL). */
    long[] pauseLeaderMs() {
      return new long[] {electionTimeoutMaxMs + 1_000, sessionTtlMs - 1_500};
    }

    /** A paused worker must outlive its session, with room for the lock to move on. */
    long[] pauseWorkerMs() {
      return new long[] {sessionTtlMs + 4_000, sessionTtlMs + 7_000};
    }

    Map<String, Object> toMap() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("nodes", nodes);
      m.put("workers", workers);
      m.put("ops_ms", opsMs);
      m.put("first_fault_ms", firstFaultMs);
      m.put("gap_ms", List.of(minGapMs, maxGapMs));
      m.put("election_timeout_max_ms", electionTimeoutMaxMs);
      m.put("session_ttl_ms", sessionTtlMs);
      return m;
    }
  }

  private record Draft(Kind kind, long durationMs, long gapMs, int targetChoice) {}

  public static Schedule generate(long seed, Profile p) {
    Random r = new Random(seed);
    List<Draft> drafts = new ArrayList<>();
    long end = p.opsMs() - 5_000; // every fault healed 5 s before the operations stop
    long at = p.firstFaultMs();
    while (true) {
      Draft d = draft(r, p, Kind.values()[r.nextInt(Kind.values().length)]);
      if (at + d.durationMs() > end) {
        break;
      }
      drafts.add(d);
      at += d.durationMs() + d.gapMs();
    }
    boolean forced = drafts.stream().noneMatch(d -> d.kind() == Kind.PAUSE_WORKER);
    if (forced) {
      drafts.add(0, draft(r, p, Kind.PAUSE_WORKER));
    }
    List<Fault> faults = new ArrayList<>();
    at = p.firstFaultMs();
    for (Draft d : drafts) {
      if (at + d.durationMs() > end) {
        break;
      }
      faults.add(new Fault(faults.size(), d.kind(), at, d.durationMs(), d.targetChoice()));
      at += d.durationMs() + d.gapMs();
    }
    return new Schedule(seed, p, List.copyOf(faults), forced);
  }

  private static Draft draft(Random r, Profile p, Kind kind) {
    long[] range = switch (kind) {
      case KILL_LEADER -> new long[] {2_000, 6_000};
      case KILL_FOLLOWER -> new long[] {2_000, 8_000};
      case PAUSE_LEADER -> p.pauseLeaderMs();
      case PAUSE_WORKER -> p.pauseWorkerMs();
    };
    long duration = range[0] + (long) (r.nextDouble() * (range[1] - range[0]));
    long gap = p.minGapMs() + (long) (r.nextDouble() * (p.maxGapMs() - p.minGapMs()));
    int choice = r.nextInt(kind == Kind.PAUSE_WORKER ? p.workers() : Math.max(1, p.nodes() - 1));
    return new Draft(kind, duration, gap, choice);
  }

  public String toJson() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("seed", seed);
    m.put("profile", profile.toMap());
    m.put("forced_worker_pause", forcedWorkerPause);
    List<Object> fs = new ArrayList<>();
    for (Fault f : faults) {
      fs.add(f.toMap());
    }
    m.put("faults", fs);
    return Json.write(m);
  }

  @Override
  public String toString() {
    StringBuilder b = new StringBuilder("schedule (seed " + seed + (forcedWorkerPause ? ", worker pause forced" : "")
        + "):");
    for (Fault f : faults) {
      b.append(String.format("%n  #%d at %6.1f s  %-13s for %5.1f s  target choice %d", f.index(), f.atMs() / 1000.0,
          f.kind(), f.durationMs() / 1000.0, f.targetChoice()));
    }
    return b.toString();
  }
}
