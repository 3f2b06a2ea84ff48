package io.holdfast.chaos;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * The faults of one run, drawn from one seed before the run starts. Faults come one at a time:
 * each starts at {@code atMs} after the operations began, lasts {@code durationMs}, is healed, and
 * the next starts after a gap. Targets are chosen when the fault fires (which node leads is not
 * known in advance) from {@code targetChoice}, a number drawn from the seed: for a follower, which
 * of the followers in node order; for a worker, which worker; for a split, a bridge, a clock
 * skew or a minority kill, which node (see {@link Partition}); for a deaf node, the leader when
 * even, else which follower (the same for the member a swap removes). The same seed and the same
 * enabled kinds give the same schedule.
 */
public record Schedule(long seed, Profile profile, List<Fault> faults, List<String> forced) {
  public enum Kind {
    KILL_LEADER, KILL_FOLLOWER, PAUSE_LEADER, PAUSE_WORKER,
    PARTITION_LEADER, PARTITION_SPLIT, PARTITION_BRIDGE, CLOCK_SKEW, RESTART_ALL, KILL_MINORITY,
    /** SIGTERM of the leader, which hands leadership over before it goes, then a restart. */
    STOP_LEADER,
    /** One node drops every packet from the other nodes and sends as usual: the leader or a follower. */
    PARTITION_DEAF,
    /** Every node drops a share ({@code lossPercent}) of what it sends to the others, at random. */
    PARTITION_LOSSY,
    /**
     * A fresh node (a spare slot, a new id) joins and is added, then a member is removed: the
     * leader (handed over first) or a follower. At most {@link Profile#maxSwaps} per run.
     */
    MEMBER_SWAP;

    public boolean partition() {
      return name().startsWith("PARTITION_");
    }
  }

  /**
   * {@code clockOffsetMs}: the skewed node's wall-clock offset (CLOCK_SKEW only, else 0);
   * {@code lossPercent}: the share of packets dropped (PARTITION_LOSSY only, else 0).
   */
  public record Fault(int index, Kind kind, long atMs, long durationMs, int targetChoice, long clockOffsetMs,
      int lossPercent) {
    Map<String, Object> toMap() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("index", index);
      m.put("kind", kind.name());
      m.put("at_ms", atMs);
      m.put("duration_ms", durationMs);
      m.put("target_choice", targetChoice);
      if (kind == Kind.CLOCK_SKEW) {
        m.put("clock_offset_ms", clockOffsetMs);
      }
      if (kind == Kind.PARTITION_LOSSY) {
        m.put("loss_percent", lossPercent);
      }
      return m;
    }
  }

  /**
   * The run's shape; durations follow from the cluster's timing settings. {@code kinds}: the faults
   * this run may draw; {@code everyKind}: each of them is forced into the schedule (the soak).
   */
  public record Profile(String name, int nodes, int workers, long opsMs, long firstFaultMs, long minGapMs,
      long maxGapMs, long electionTimeoutMaxMs, long sessionTtlMs, Set<Kind> kinds, boolean everyKind) {
    public Profile {
      kinds = Set.copyOf(kinds);
    }

    public static Profile defaults() {
      return new Profile("default", 3, 3, 75_000, 8_000, 4_000, 7_000, 2_000, 6_000, EnumSet.allOf(Kind.class), false);
    }

    /**
     * The default's cluster, 20 s of operations: long enough for a deliberately broken build to be
     * caught in every default run, short enough to add half a minute to it. Only faults that fit
     * between 8 s and the end are drawn (often one short one, or none): the broken build is what
     * this run tests.
     */
    public static Profile brokenBuild() {
      return new Profile("broken-build", 3, 3, 20_000, 8_000, 4_000, 7_000, 2_000, 6_000, EnumSet.allOf(Kind.class),
          false);
    }

    /** 5 nodes, every kind of fault at least once, {@code opsMs} of operations. */
    public static Profile soak(long opsMs) {
      return new Profile("soak", 5, 3, opsMs, 8_000, 4_000, 7_000, 2_000, 6_000, EnumSet.allOf(Kind.class), true);
    }

    /**
     * {@code -Dchaos.profile=soak} with {@code -Dchaos.duration=30m} (default 30 minutes), else the
     * default; {@code -Dchaos.kinds=PARTITION_DEAF,PARTITION_LOSSY} keeps only the kinds named (and
     * the worker pauses).
     */
    public static Profile fromSystemProperties() {
      Profile p = "soak".equals(System.getProperty("chaos.profile", "").trim())
          ? soak(parseDuration(System.getProperty("chaos.duration", "30m"))) : defaults();
      String only = System.getProperty("chaos.kinds", "").trim();
      return only.isEmpty() ? p : p.only(parseKinds(only));
    }

    /** A comma-separated list of kind names; an unknown name is an error that lists the known ones. */
    static Set<Kind> parseKinds(String text) {
      Set<Kind> out = EnumSet.noneOf(Kind.class);
      for (String name : text.split(",")) {
        String t = name.trim().toUpperCase(java.util.Locale.ROOT);
        try {
          out.add(Kind.valueOf(t));
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("chaos.kinds: unknown kind '" + name.trim() + "'; known: "
              + Arrays.toString(Kind.values()), e);
        }
      }
      return out;
    }

    /**
     * The same profile with only {@code chosen} of its kinds, and its worker pauses: the canary and
     * the paused-holder checks need one, or they could not tell a run that refused nothing from one
     * that had nothing stale to refuse.
     */
    public Profile only(Collection<Kind> chosen) {
      Set<Kind> picked = EnumSet.of(Kind.PAUSE_WORKER);
      picked.addAll(chosen);
      Set<Kind> left = EnumSet.allOf(Kind.class);
      left.retainAll(kinds);
      left.retainAll(picked);
      return new Profile(name, nodes, workers, opsMs, firstFaultMs, minGapMs, maxGapMs, electionTimeoutMaxMs,
          sessionTtlMs, left, everyKind);
    }

    /** {@code 90s}, {@code 4m}, {@code 1h}, or plain milliseconds. */
    static long parseDuration(String text) {
      String t = text.trim().toLowerCase();
      if (t.isEmpty()) {
        return 30 * 60_000L;
      }
      char unit = t.charAt(t.length() - 1);
      long factor = switch (unit) {
        case 's' -> 1_000L;
        case 'm' -> 60_000L;
        case 'h' -> 3_600_000L;
        default -> 1L;
      };
      String number = Character.isDigit(unit) ? t : t.substring(0, t.length() - 1);
      return Long.parseLong(number.trim()) * factor;
    }

    /** The same profile without {@code missing} (e.g. partitions where no namespaces can be made). */
    public Profile without(Collection<Kind> missing) {
      Set<Kind> left = EnumSet.allOf(Kind.class);
      left.retainAll(kinds);
      left.removeAll(missing);
      return new Profile(name, nodes, workers, opsMs, firstFaultMs, minGapMs, maxGapMs, electionTimeoutMaxMs,
          sessionTtlMs, left, everyKind);
    }

    /** Enabled kinds in declaration order, so that draws do not depend on set iteration order. */
    List<Kind> kindList() {
      return Arrays.stream(Kind.values()).filter(kinds::contains).toList();
    }

    /** Each swap uses a spare node slot: this many are set aside. */
    public int maxSwaps() {
      return nodes;
    }

    /** A paused leader must be replaced (> election timeout) while sessions live on (< TTL). */
    long[] pauseLeaderMs() {
      return new long[] {electionTimeoutMaxMs + 1_000, sessionTtlMs - 1_500};
    }

    /** A paused worker must outlive its session, with room for the lock to move on. */
    long[] pauseWorkerMs() {
      return new long[] {sessionTtlMs + 4_000, sessionTtlMs + 7_000};
    }

    /** A cut outlasts an election, and up to past a session TTL (sessions on the wrong side may expire). */
    long[] partitionMs() {
      return new long[] {electionTimeoutMaxMs + 2_000, sessionTtlMs + 4_000};
    }

    Map<String, Object> toMap() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("name", name);
      m.put("nodes", nodes);
      m.put("workers", workers);
      m.put("ops_ms", opsMs);
      m.put("first_fault_ms", firstFaultMs);
      m.put("gap_ms", List.of(minGapMs, maxGapMs));
      m.put("election_timeout_max_ms", electionTimeoutMaxMs);
      m.put("session_ttl_ms", sessionTtlMs);
      m.put("kinds", kindList().stream().map(Kind::name).toList());
      m.put("every_kind", everyKind);
      return m;
    }
  }

  private record Draft(Kind kind, long durationMs, long gapMs, int targetChoice, long clockOffsetMs,
      int lossPercent) {}

  /** A kind of fault every schedule must contain, taken from {@code from}. */
  private record Need(String what, List<Kind> from) {}

  public static Schedule generate(long seed, Profile p) {
    Random r = new Random(seed);
    List<Kind> kinds = p.kindList();
    List<Draft> drafts = new ArrayList<>();
    long at = p.firstFaultMs();
    List<Kind> withoutSwaps = kinds.stream().filter(k -> k != Kind.MEMBER_SWAP).toList();
    int swaps = 0;
    while (!kinds.isEmpty()) {
      List<Kind> from = swaps < p.maxSwaps() || withoutSwaps.isEmpty() ? kinds : withoutSwaps;
      Draft d = draft(r, p, from.get(r.nextInt(from.size())));
      if (d.kind() == Kind.MEMBER_SWAP && swaps++ >= p.maxSwaps()) {
        break;
      }
      if (at + d.durationMs() > end(p)) {
        break;
      }
      drafts.add(d);
      at += d.durationMs() + d.gapMs();
    }
    List<String> forced = new ArrayList<>();
    List<Need> needs = needs(p);
    // A need not met by the faults that fit is met at the front: a later draw of that kind is moved
    // there, or a new one drawn. Moving one to the front can push another out at the end, so repeat.
    for (int round = 0; round < needs.size() + 1; round++) {
      boolean changed = false;
      for (Need n : needs) {
        List<Draft> fit = fit(drafts, p);
        if (fit.stream().anyMatch(d -> n.from().contains(d.kind()))) {
          continue;
        }
        int later = -1;
        for (int i = 0; i < drafts.size() && later < 0; i++) {
          if (n.from().contains(drafts.get(i).kind())) {
            later = i;
          }
        }
        Draft d;
        if (later >= 0) {
          d = drafts.remove(later);
        } else {
          d = draft(r, p, n.from().get(r.nextInt(n.from().size())));
          forced.add(n.what());
        }
        drafts.add(0, d);
        changed = true;
      }
      if (!changed) {
        break;
      }
    }
    List<Fault> faults = new ArrayList<>();
    at = p.firstFaultMs();
    for (Draft d : fit(drafts, p)) {
      faults.add(new Fault(faults.size(), d.kind(), at, d.durationMs(), d.targetChoice(), d.clockOffsetMs(),
          d.lossPercent()));
      at += d.durationMs() + d.gapMs();
    }
    return new Schedule(seed, p, List.copyOf(faults), List.copyOf(forced));
  }

  /** Every fault is healed 5 s before the operations stop. */
  private static long end(Profile p) {
    return p.opsMs() - 5_000;
  }

  private static List<Draft> fit(List<Draft> drafts, Profile p) {
    List<Draft> out = new ArrayList<>();
    long at = p.firstFaultMs();
    for (Draft d : drafts) {
      if (at + d.durationMs() > end(p)) {
        break;
      }
      out.add(d);
      at += d.durationMs() + d.gapMs();
    }
    return out;
  }

  /** A worker pause (the canary needs one) and a partition, when enabled; the soak: every kind. */
  private static List<Need> needs(Profile p) {
    List<Kind> kinds = p.kindList();
    List<Need> needs = new ArrayList<>();
    if (kinds.contains(Kind.PAUSE_WORKER)) {
      needs.add(new Need("worker pause", List.of(Kind.PAUSE_WORKER)));
    }
    List<Kind> partitions = kinds.stream().filter(Kind::partition).toList();
    if (!partitions.isEmpty()) {
      needs.add(new Need("partition", partitions));
    }
    if (p.everyKind()) {
      for (Kind k : kinds) {
        needs.add(new Need(k.name(), List.of(k)));
      }
    }
    return needs;
  }

  private static Draft draft(Random r, Profile p, Kind kind) {
    long[] range = switch (kind) {
      case KILL_LEADER, STOP_LEADER -> new long[] {2_000, 6_000};
      case KILL_FOLLOWER -> new long[] {2_000, 8_000};
      case PAUSE_LEADER -> p.pauseLeaderMs();
      case PAUSE_WORKER -> p.pauseWorkerMs();
      case PARTITION_LEADER, PARTITION_SPLIT, PARTITION_BRIDGE, PARTITION_DEAF, PARTITION_LOSSY -> p.partitionMs();
      case CLOCK_SKEW -> new long[] {6_000, 12_000}; // how long the skewed node runs once it serves (and leads)
      case RESTART_ALL -> new long[] {1_000, 4_000}; // how long the whole cluster is down
      case MEMBER_SWAP -> new long[] {6_000, 10_000}; // at least this long from its start, more if the swap is slower
      case KILL_MINORITY -> new long[] {2_000, 6_000}; // how long the minority is down
    };
    long duration = range[0] + (long) (r.nextDouble() * (range[1] - range[0]));
    long gap = p.minGapMs() + (long) (r.nextDouble() * (p.maxGapMs() - p.minGapMs()));
    int choices = switch (kind) {
      case PAUSE_WORKER -> p.workers();
      case PARTITION_SPLIT, PARTITION_BRIDGE, CLOCK_SKEW, KILL_MINORITY -> p.nodes();
      case PARTITION_DEAF, MEMBER_SWAP -> 2 * p.nodes(); // even: the leader; odd: a follower
      default -> Math.max(1, p.nodes() - 1);
    };
    int choice = r.nextInt(choices);
    // 5 s to 5 min ahead or behind, in whole seconds (libfaketime's offset format).
    long offset = kind != Kind.CLOCK_SKEW ? 0
        : (r.nextBoolean() ? 1 : -1) * (5 + r.nextInt(296)) * 1_000L;
    // 5 % to 40 %: TCP rides out the low end with retransmits; the high end stalls links for seconds.
    int loss = kind != Kind.PARTITION_LOSSY ? 0 : 5 + r.nextInt(36);
    return new Draft(kind, duration, gap, choice, offset, loss);
  }

  /**
   * The nodes a {@code KILL_MINORITY} kills: {@code nodes/2} consecutive nodes (mod {@code nodes})
   * from {@code targetChoice % nodes}, in ascending order. Who leads is not looked at: the leader
   * is among them or not, as the seed falls.
   */
  static List<Integer> minority(int targetChoice, int nodes) {
    List<Integer> out = new ArrayList<>();
    for (int i = 0; i < nodes / 2; i++) {
      out.add((targetChoice + i) % nodes);
    }
    out.sort(null);
    return out;
  }

  public String toJson() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("seed", seed);
    m.put("profile", profile.toMap());
    m.put("forced", forced);
    List<Object> fs = new ArrayList<>();
    for (Fault f : faults) {
      fs.add(f.toMap());
    }
    m.put("faults", fs);
    return Json.write(m);
  }

  @Override
  public String toString() {
    StringBuilder b = new StringBuilder("schedule (seed " + seed + ", profile " + profile.name() + ", "
        + profile.nodes() + " nodes" + (forced.isEmpty() ? "" : ", forced: " + String.join(", ", forced)) + "):");
    b.append("\n  kinds: ").append(profile.kindList());
    for (Fault f : faults) {
      b.append(String.format("%n  #%d at %6.1f s  %-16s for %5.1f s  target choice %d", f.index(), f.atMs() / 1000.0,
          f.kind(), f.durationMs() / 1000.0, f.targetChoice()));
      if (f.kind() == Kind.CLOCK_SKEW) {
        b.append("  clock ").append(FakeTime.offset(f.clockOffsetMs()));
      }
      if (f.kind() == Kind.PARTITION_LOSSY) {
        b.append("  loss ").append(f.lossPercent()).append('%');
      }
    }
    return b.toString();
  }
}
