package io.holdfast.chaos;

import io.holdfast.chaos.Schedule.Kind;
import io.holdfast.server.testing.ProcessCluster;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * What this machine lets a run do: per-node network namespaces (else loopback, and no partition
 * faults) and libfaketime (else no clock skew). Decided once, before the schedule is drawn, and
 * said out loud: a run that silently lost its partitions would look greener than it is.
 */
public final class FaultSupport implements AutoCloseable {
  private final NetnsNetwork network;
  private final FakeTime fakeTime;
  private final List<String> notes;

  private FaultSupport(NetnsNetwork network, FakeTime fakeTime, List<String> notes) {
    this.network = network;
    this.fakeTime = fakeTime;
    this.notes = List.copyOf(notes);
  }

  public static FaultSupport detect(int nodes) {
    List<String> notes = new ArrayList<>();
    NetnsNetwork network = null;
    Optional<String> why = NetnsNetwork.unavailableReason();
    if (why.isEmpty()) {
      try {
        network = NetnsNetwork.open(nodes);
        network.checkReachable();
      } catch (RuntimeException e) {
        if (network != null) {
          network.close();
          network = null;
        }
        why = Optional.of("could not build the namespaces: " + e.getMessage());
      }
    }
    notes.add(network != null ? "network: " + network
        : "network: LOOPBACK FALLBACK, partition faults disabled (" + why.get() + ")");
    StringBuilder whyNot = new StringBuilder();
    FakeTime ft = FakeTime.find(whyNot).orElse(null);
    notes.add(ft != null ? "clock skew: libfaketime " + ft.library().getFileName() + " (wall clock only)"
        : "clock skew: DISABLED (" + whyNot + ")");
    return new FaultSupport(network, ft, notes);
  }

  /** Kinds this machine cannot run. */
  public Set<Kind> missingKinds() {
    Set<Kind> missing = EnumSet.noneOf(Kind.class);
    if (network == null) {
      for (Kind k : Kind.values()) {
        if (k.partition()) {
          missing.add(k);
        }
      }
    }
    if (fakeTime == null) {
      missing.add(Kind.CLOCK_SKEW);
    }
    return missing;
  }

  /** Puts each node in its namespace (when there are namespaces); the loopback path is untouched. */
  public void configure(ProcessCluster cluster) {
    if (network == null) {
      return;
    }
    network.place(cluster);
  }

  public Optional<NetnsNetwork> network() {
    return Optional.ofNullable(network);
  }

  public Optional<FakeTime> fakeTime() {
    return Optional.ofNullable(fakeTime);
  }

  public List<String> notes() {
    return notes;
  }

  @Override
  public void close() {
    if (network != null) {
      network.close();
    }
  }
}
