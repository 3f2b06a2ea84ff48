package io.holdfast.ops.bench;

import io.holdfast.ops.cli.ExitCodes;
import io.holdfast.server.state.ClientInfo;
import io.holdfast.server.state.HoldfastState;
import io.holdfast.server.state.LogEntry;
import io.holdfast.server.state.Result;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Bytes of server heap per session and per held lock: N sessions, then a lock held by each, applied
 * to the replicated state in this JVM, with the live heap measured after a full GC before and after.
 */
@Command(name = "memory", mixinStandardHelpOptions = true,
    description = "Heap bytes per session and per held lock in the replicated state (measured in this JVM).",
    footer = {"", "Example:", "  holdfast bench memory --count 100000"})
final class MemoryBench implements Callable<Integer> {
  @Option(names = "--count", description = "sessions, and locks (one held by each session) (default ${DEFAULT-VALUE})")
  int count = 100_000;

  @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", description = "table (default) or json")
  io.holdfast.ops.cli.Output.Format output = io.holdfast.ops.cli.Output.Format.table;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    if (count < 1 || count > 10_000_000) {
      spec.commandLine().getErr().println("holdfast bench memory: --count must be between 1 and 10000000, got " + count);
      spec.commandLine().getErr().flush();
      return ExitCodes.USAGE;
    }
    HoldfastState state = new HoldfastState();
    long index = 0;
    long now = 1_700_000_000_000L;
    long[] ids = new long[count];
    long base = liveHeap();
    for (int i = 0; i < count; i++) {
      Result r = state.apply(new LogEntry(++index, 1, now, new io.holdfast.server.state.Command.OpenSession("open-" + i, 10_000,
          new ClientInfo("agent-" + i, "host-" + (i % 1000), 10_000 + i, new TreeMap<>()), "")), e -> { });
      ids[i] = ((Result.SessionOpened) r).sessionId();
    }
    long withSessions = liveHeap();
    for (int i = 0; i < count; i++) {
      Result r = state.apply(new LogEntry(++index, 1, now, new io.holdfast.server.state.Command.Acquire("lock-" + i, ids[i],
          "fleet/agents/agent-" + i, 0)), e -> { });
      if (!(r instanceof Result.Granted)) {
        throw new IllegalStateException("acquire " + i + " was not granted: " + r);
      }
    }
    long withLocks = liveHeap();
    BenchReport report = new BenchReport("memory");
    report.put("count", count);
    report.put("bytes_per_session", (withSessions - base) / count);
    report.put("bytes_per_held_lock", (withLocks - withSessions) / count);
    report.put("heap_mb_total", (withLocks - base) / (1024 * 1024));
    report.put("note", "sessions carry their client name, host, pid and request cache; lock names are ~20 characters");
    if (state.sessionCount() != count) {
      report.violation("expected " + count + " sessions in the state, found " + state.sessionCount());
    }
    report.print(out, output == io.holdfast.ops.cli.Output.Format.json);
    return report.failed() ? ExitCodes.FAILED : ExitCodes.OK;
  }

  /**
   * The heap left after a full collection, summed over the pools' post-collection usage: the plain
   * heap usage also counts what other threads allocated since, which made small counts read as zero.
   */
  private static long liveHeap() {
    long live = 0;
    for (int i = 0; i < 3; i++) {
      System.gc();
      long sum = 0;
      for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
        MemoryUsage after = pool.getType() == MemoryType.HEAP ? pool.getCollectionUsage() : null;
        if (after != null) {
          sum += after.getUsed();
        }
      }
      live = sum > 0 ? sum : ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
    return live;
  }
}
