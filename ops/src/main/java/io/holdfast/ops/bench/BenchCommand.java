package io.holdfast.ops.bench;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code holdfast bench}: the load generator behind ops/benchmarks.md. */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = {"Measures a cluster (--endpoints) or one it starts (--local 3): W1/W2 locks, W3 sessions, "
        + "W4 failover, W5 orphan reclaim, and heap per session and lock. Every run checks that no two holders "
        + "overlapped and tokens only grew, and fails (exit 1) on a violation."},
    subcommands = {LocksBench.class, SessionsBench.class, FailoverBench.class, OrphanBench.class, MemoryBench.class,
        CommandLine.HelpCommand.class},
    footer = {"", "Examples:", "  holdfast bench locks --local 3 --clients 16 --duration 30s",
        "  holdfast bench failover --local 3 --trials 5 -o json"})
public final class BenchCommand implements Runnable {
  @Override
  public void run() {
    throw new CommandLine.ParameterException(new CommandLine(this), "a workload is required (see holdfast bench --help)");
  }
}
