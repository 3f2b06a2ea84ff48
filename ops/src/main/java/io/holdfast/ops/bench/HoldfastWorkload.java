package io.holdfast.ops.bench;

import java.io.PrintWriter;
import picocli.CommandLine.Mixin;

/** A workload against Holdfast: a running cluster ({@code --endpoints}) or one it starts ({@code --local}). */
abstract class HoldfastWorkload extends Workload<BenchTarget.Target> {
  @Mixin
  BenchTarget target;

  /** Workloads that kill server processes run only on a cluster they started. */
  boolean needsLocal() {
    return false;
  }

  /** The workload's own option checks, after the target's. */
  abstract String optionProblem();

  @Override
  final String problem() {
    return Workload.first(target.problem(needsLocal()), optionProblem());
  }

  @Override
  final BenchTarget.Target open(PrintWriter err) throws Exception {
    return target.open(err);
  }

  @Override
  final boolean json() {
    return target.json();
  }
}
