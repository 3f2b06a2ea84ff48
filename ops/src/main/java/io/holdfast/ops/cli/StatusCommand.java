package io.holdfast.ops.cli;

import io.holdfast.client.ClusterStatus;
import io.holdfast.client.HoldfastClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

@Command(name = "status", mixinStandardHelpOptions = true,
    description = "Every member: its role, term, applied index, lag behind the leader, and health.",
    footer = {"", "Example:", "  holdfast status --endpoints 10.0.0.1:7400,10.0.0.2:7400,10.0.0.3:7400",
        "Exit code 1 when a member does not answer or there is no leader."})
public final class StatusCommand implements Callable<Integer> {
  @Mixin
  ClusterOptions cluster;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    List<Map<String, Object>> json = new ArrayList<>();
    List<List<String>> rows = new ArrayList<>();
    boolean healthy = true;
    String leader = null;
    long leaderCommit = -1;
    List<ClusterStatus> answers = new ArrayList<>();
    try (HoldfastClient client = cluster.client("holdfast-cli")) {
      for (String endpoint : cluster.endpointList()) {
        ClusterStatus s;
        try {
          s = client.admin().memberStatus(endpoint, Duration.ofSeconds(2));
        } catch (RuntimeException e) {
          s = null;
        }
        answers.add(s);
        if (s != null && "LEADER".equals(s.role())) {
          leader = s.memberId();
          leaderCommit = s.commitIndex();
        }
      }
      List<String> endpoints = cluster.endpointList();
      for (int i = 0; i < endpoints.size(); i++) {
        ClusterStatus s = answers.get(i);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("endpoint", endpoints.get(i));
        if (s == null) {
          healthy = false;
          m.put("health", "unreachable");
          rows.add(List.of("-", endpoints.get(i), "-", "-", "-", "-", "-", "unreachable"));
        } else {
          String health = s.leaderId().isEmpty() ? "no leader" : "ok";
          long lag = leaderCommit < 0 ? 0 : Math.max(0, leaderCommit - s.appliedIndex());
          healthy &= health.equals("ok");
          m.put("member", s.memberId());
          m.put("role", s.role());
          m.put("term", s.term());
          m.put("applied_index", s.appliedIndex());
          m.put("commit_index", s.commitIndex());
          m.put("lag", lag);
          m.put("leader", s.leaderId());
          m.put("version", s.version());
          m.put("apply_rules", s.applyRules());
          m.put("apply_rules_supported", s.applyRulesSupported());
          m.put("health", health);
          rows.add(List.of(s.memberId(), endpoints.get(i), s.role(), Long.toString(s.term()),
              Long.toString(s.appliedIndex()), Long.toString(s.commitIndex()), Long.toString(lag), health));
        }
        json.add(m);
      }
    }
    healthy &= leader != null;
    var out = spec.commandLine().getOut();
    if (cluster.json()) {
      Map<String, Object> doc = new LinkedHashMap<>();
      doc.put("leader", leader == null ? "" : leader);
      doc.put("healthy", healthy);
      doc.put("members", json);
      Output.json(out, doc);
    } else {
      Output.table(out, List.of("MEMBER", "ENDPOINT", "ROLE", "TERM", "APPLIED", "COMMIT", "LAG", "HEALTH"), rows);
      out.println(leader == null ? "no leader" : "leader: " + leader);
      String rules = applyRulesLine(answers);
      if (rules != null) {
        out.println(rules);
      }
      out.flush();
    }
    return healthy ? ExitCodes.OK : ExitCodes.FAILED;
  }

  /**
   * The apply rules the cluster writes, and which members' builds know later ones (a rolling upgrade
   * under way); null when no member answered with them (an older server).
   */
  static String applyRulesLine(List<ClusterStatus> answers) {
    int writes = 0;
    java.util.TreeMap<Integer, List<String>> ahead = new java.util.TreeMap<>();
    for (ClusterStatus s : answers) {
      if (s != null) {
        writes = Math.max(writes, s.applyRules());
      }
    }
    if (writes == 0) {
      return null;
    }
    for (ClusterStatus s : answers) {
      if (s != null && s.applyRulesSupported() > writes) {
        ahead.computeIfAbsent(s.applyRulesSupported(), k -> new ArrayList<>()).add(s.memberId());
      }
    }
    StringBuilder b = new StringBuilder("apply rules: " + writes);
    ahead.forEach((rules, members) -> b.append("; ").append(String.join(", ", members)).append(" know ")
        .append(rules));
    if (!ahead.isEmpty()) {
      b.append(" (the leader raises them once every voter does)");
    }
    return b.toString();
  }
}
