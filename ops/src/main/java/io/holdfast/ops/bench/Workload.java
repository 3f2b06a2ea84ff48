package io.holdfast.ops.bench;

import io.holdfast.ops.cli.ExitCodes;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * One bench workload as a command: check the options (a usage error starts nothing), open what it
 * runs against, run, print the report, and exit 1 when the run found a violation.
 *
 * @param <T> what the workload runs against (a Holdfast cluster, a peer's cluster)
 */
abstract class Workload<T extends AutoCloseable> implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  /** Why these options cannot run, or null. */
  abstract String problem();

  abstract T open(PrintWriter err) throws Exception;

  abstract BenchReport run(T target, PrintWriter err) throws Exception;

  abstract boolean json();

  @Override
  public final Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    String problem = problem();
    if (problem != null) {
      err.println(spec.qualifiedName() + ": " + problem);
      err.flush();
      return ExitCodes.USAGE;
    }
    try (T target = open(err)) {
      BenchReport report = run(target, err);
      report.print(out, json());
      return report.failed() ? ExitCodes.FAILED : ExitCodes.OK;
    }
  }

  /** The first problem of several checks, or null: {@code check(a == null ? b : a, ...)}. */
  static String first(String... problems) {
    for (String p : problems) {
      if (p != null) {
        return p;
      }
    }
    return null;
  }
}
