package io.holdfast.server.bench;

import io.holdfast.server.state.ClientInfo;
import io.holdfast.server.state.Command;
import io.holdfast.server.state.HoldfastState;
import io.holdfast.server.state.LogEntry;
import io.holdfast.server.state.Result;
import io.holdfast.server.statemachine.CommandCodec;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The state machine's apply path alone, on one thread: the CPU ceiling of committed commands per
 * second that a cluster can approach (Ratis, the network and fsync come on top). Run with
 * {@code mvn -pl server -am -Papply-bench -DskipTests test}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class ApplyBenchmark {
  @Param({"10000"})
  public int sessions;

  HoldfastState state;
  long[] ids;
  long index;
  long request;
  int next;
  List<Long> renewed;

  @Setup(Level.Trial)
  public void setUp() {
    state = new HoldfastState();
    ids = new long[sessions];
    for (int i = 0; i < sessions; i++) {
      Result r = apply(new Command.OpenSession("open-" + i, 10_000,
          new ClientInfo("agent-" + i, "host-" + i % 100, 1_000 + i, new TreeMap<>()), ""), null);
      ids[i] = ((Result.SessionOpened) r).sessionId();
    }
    renewed = new ArrayList<>();
    for (int i = 0; i < Math.min(1_000, sessions); i++) {
      renewed.add(ids[i]);
    }
  }

  Result apply(Command c, Blackhole bh) {
    return state.apply(new LogEntry(++index, 1, 1_700_000_000_000L + index, c), e -> {
      if (bh != null) {
        bh.consume(e);
      }
    });
  }

  /** One acquire granted at once and its release: two log entries. */
  @Benchmark
  @OperationsPerInvocation(2)
  public void acquireRelease(Blackhole bh) {
    long sid = ids[next++ % ids.length];
    String lock = "fleet/lock-" + sid;
    Result g = apply(new Command.Acquire("a" + (++request), sid, lock, 0), bh);
    bh.consume(apply(new Command.Release("r" + (++request), sid, lock, ((Result.Granted) g).token()), bh));
  }

  /** The same, through the log codec as a follower sees it: encode, decode, apply. */
  @Benchmark
  @OperationsPerInvocation(2)
  public void codecAcquireRelease(Blackhole bh) throws Exception {
    long sid = ids[next++ % ids.length];
    String lock = "fleet/lock-" + sid;
    Command acquire = CommandCodec.decode(CommandCodec.encode(new Command.Acquire("a" + (++request), sid, lock, 0),
        index)).command();
    Result g = apply(acquire, bh);
    Command release = CommandCodec.decode(CommandCodec.encode(new Command.Release("r" + (++request), sid, lock,
        ((Result.Granted) g).token()), index)).command();
    bh.consume(apply(release, bh));
  }

  /** The leader's once-a-second renewal checkpoint, naming 1,000 sessions (all of them, if fewer). */
  @Benchmark
  public void checkpointOf1000(Blackhole bh) {
    bh.consume(apply(new Command.Checkpoint(renewed), bh));
  }
}
