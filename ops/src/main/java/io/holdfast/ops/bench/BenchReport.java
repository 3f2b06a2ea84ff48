package io.holdfast.ops.bench;

import io.holdfast.ops.cli.Output;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A bench run's figures in the order they were added, and the violations that fail it; printed as a
 * two-column table or as JSON.
 */
final class BenchReport {
  private final String workload;
  private final Map<String, Object> figures = new LinkedHashMap<>();
  private final List<String> violations = new ArrayList<>();

  BenchReport(String workload) {
    this.workload = workload;
  }

  BenchReport put(String name, Object value) {
    figures.put(name, value);
    return this;
  }

  BenchReport latency(String prefix, LatencySummary l) {
    put(prefix + "_p50_ms", l.p50Ms());
    put(prefix + "_p90_ms", l.p90Ms());
    put(prefix + "_p99_ms", l.p99Ms());
    put(prefix + "_max_ms", l.maxMs());
    return this;
  }

  void violation(String v) {
    violations.add(v);
  }

  void violations(List<String> vs) {
    violations.addAll(vs);
  }

  boolean failed() {
    return !violations.isEmpty();
  }

  Map<String, Object> figures() {
    return figures;
  }

  void print(PrintWriter out, boolean json) {
    if (json) {
      Map<String, Object> doc = new LinkedHashMap<>();
      doc.put("workload", workload);
      doc.put("figures", figures);
      doc.put("violations", violations);
      doc.put("verdict", failed() ? "FAILED" : "OK");
      Output.json(out, doc);
    } else {
      List<List<String>> rows = new ArrayList<>();
      figures.forEach((k, v) -> rows.add(List.of(k, String.valueOf(v))));
      rows.add(List.of("verdict", failed() ? "FAILED: " + violations.size() + " violation(s)" : "OK"));
      Output.table(out, List.of(workload, "value"), rows);
      for (String v : violations.subList(0, Math.min(20, violations.size()))) {
        out.println("violation: " + v);
      }
    }
    out.flush();
  }
}
