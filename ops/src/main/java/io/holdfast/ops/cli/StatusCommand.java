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
    description = {"Every member: its role, term, applied index, lag behind the leader, and health.",
        "The members are the cluster's own list (from the leader's answer), not only --endpoints: a member "
            + "missing from --endpoints is asked at its client address and marked \"not in --endpoints\"; an "
            + "endpoint that is not a member is marked \"not a member\"."},
    footer = {"", "Example:", "  holdfast status --endpoints 10.0.0.1:7400,10.0.0.2:7400,10.0.0.3:7400",
        "Exit code 1 when a member or an endpoint does not answer, there is no leader, or the endpoints "
            + "answer for different clusters (a wrong --endpoints)."})
public final class StatusCommand implements Callable<Integer> {
  @Mixin
  ClusterOptions cluster;

  @Spec
  CommandSpec spec;

  /** One place asked: an endpoint given, or a member's client address; {@code answer} null if none came. */
  static final class Probe {
    final String endpoint;
    final boolean inEndpoints;
    final ClusterStatus answer;
    /** The member expected here (from the member list), or null. */
    String member;
    /** In the cluster's member list: true, false, or null when no list was had. */
    Boolean voter;
    final List<String> notes = new ArrayList<>();

    Probe(String endpoint, boolean inEndpoints, ClusterStatus answer) {
      this.endpoint = endpoint;
      this.inEndpoints = inEndpoints;
      this.answer = answer;
    }

    String memberId() {
      return answer != null ? answer.memberId() : member;
    }

    String health() {
      return answer == null ? "unreachable" : answer.leaderId().isEmpty() ? "no leader" : "ok";
    }
  }

  /** What every place asked said, put together. */
  record Report(List<Probe> probes, ClusterStatus leader, java.util.SortedMap<String, List<String>> clusters,
      List<String> problems) {
    boolean healthy() {
      return leader != null && clusters.size() <= 1 && probes.stream().allMatch(p -> p.health().equals("ok"));
    }
  }

  /**
   * Asks every endpoint, then every member of the cluster's own list that no endpoint answered for
   * (a member added later is not in $HOLDFAST_ENDPOINTS), and checks that all answers come from
   * one cluster. {@code ask} returns null when nothing answers.
   */
  static Report probe(List<String> endpoints, java.util.function.Function<String, ClusterStatus> ask) {
    List<Probe> probes = new ArrayList<>();
    for (String e : endpoints) {
      probes.add(new Probe(e, true, ask.apply(e)));
    }
    // The list of members: the leader's (the newest term's, if two think they lead), else the
    // newest term's that any member has.
    ClusterStatus leader = null;
    ClusterStatus source = null;
    for (Probe p : probes) {
      ClusterStatus s = p.answer;
      if (s != null && "LEADER".equals(s.role()) && (leader == null || s.term() > leader.term())) {
        leader = s;
      }
      if (s != null && (source == null || s.term() > source.term())) {
        source = s;
      }
    }
    if (leader != null) {
      source = leader;
    }
    java.util.Set<String> members = new java.util.LinkedHashSet<>();
    if (source != null) {
      java.util.Set<String> answered = new java.util.HashSet<>();
      probes.stream().filter(p -> p.answer != null).forEach(p -> answered.add(p.answer.memberId()));
      for (ClusterStatus.Member m : source.members()) {
        members.add(m.id());
        if (answered.contains(m.id())) {
          continue;
        }
        Probe given = probes.stream().filter(p -> p.answer == null && p.endpoint.equals(m.clientAddress()))
            .findFirst().orElse(null);
        if (given != null) {
          given.member = m.id(); // down, and named in --endpoints
        } else {
          Probe extra = new Probe(m.clientAddress(), false,
              m.clientAddress().isEmpty() ? null : ask.apply(m.clientAddress()));
          extra.member = m.id();
          extra.notes.add("not in --endpoints");
          probes.add(extra);
        }
      }
      for (Probe p : probes) {
        String id = p.memberId();
        p.voter = id == null ? null : members.contains(id); // an endpoint down and no member's address: unknown
        if (p.answer != null && !p.voter) {
          p.notes.add("not a member"); // removed, or started to join and not yet added
        }
      }
    }
    for (Probe p : probes) {
      // Again, over the members asked as well: the leader may be one that --endpoints leaves out.
      if (p.answer != null && "LEADER".equals(p.answer.role()) && (leader == null || p.answer.term() > leader.term())) {
        leader = p.answer;
      }
    }
    java.util.SortedMap<String, List<String>> clusters = new java.util.TreeMap<>();
    for (Probe p : probes) {
      if (p.answer != null) {
        clusters.computeIfAbsent(p.answer.clusterId(), k -> new ArrayList<>()).add(p.answer.memberId() + " at "
            + p.endpoint);
      }
    }
    List<String> problems = new ArrayList<>();
    if (clusters.size() > 1) {
      for (Probe p : probes) {
        if (p.answer != null) {
          p.notes.add("cluster " + p.answer.clusterId());
        }
      }
      StringBuilder b = new StringBuilder("the endpoints answer for " + clusters.size() + " different clusters:");
      clusters.forEach((id, who) -> b.append(' ').append(id).append(" (").append(String.join(", ", who)).append(')'));
      problems.add(b.append("; check --endpoints").toString());
    }
    for (Probe p : probes) {
      if (!p.inEndpoints) {
        problems.add("member " + p.member + " (" + (p.endpoint.isEmpty() ? "no client address" : p.endpoint)
            + ") is not in --endpoints" + (p.answer == null ? " and does not answer" : ""));
      } else if (p.answer != null && Boolean.FALSE.equals(p.voter)) {
        problems.add(p.endpoint + " answers as " + p.answer.memberId() + ", which is not a member of the cluster");
      }
    }
    return new Report(probes, leader, clusters, problems);
  }

  @Override
  public Integer call() {
    Report report;
    try (HoldfastClient client = cluster.client("holdfast-cli")) {
      report = probe(cluster.endpointList(), endpoint -> {
        try {
          return client.admin().memberStatus(endpoint, Duration.ofSeconds(2));
        } catch (RuntimeException e) {
          return null;
        }
      });
    }
    long leaderCommit = report.leader() == null ? -1 : report.leader().commitIndex();
    boolean notes = report.probes().stream().anyMatch(p -> !p.notes.isEmpty());
    List<Map<String, Object>> json = new ArrayList<>();
    List<List<String>> rows = new ArrayList<>();
    for (Probe p : report.probes()) {
      ClusterStatus s = p.answer;
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("endpoint", p.endpoint);
      List<String> row;
      if (s == null) {
        if (p.member != null) {
          m.put("member", p.member);
        }
        row = new ArrayList<>(List.of(p.member == null ? "-" : p.member, p.endpoint, "-", "-", "-", "-", "-",
            p.health()));
      } else {
        long lag = leaderCommit < 0 ? 0 : Math.max(0, leaderCommit - s.appliedIndex());
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
        m.put("cluster_id", s.clusterId());
        row = new ArrayList<>(List.of(s.memberId(), p.endpoint, s.role(), Long.toString(s.term()),
            Long.toString(s.appliedIndex()), Long.toString(s.commitIndex()), Long.toString(lag), p.health()));
      }
      m.put("health", p.health());
      m.put("in_endpoints", p.inEndpoints);
      if (p.voter != null) {
        m.put("voter", p.voter);
      }
      m.put("notes", p.notes);
      if (notes) {
        row.add(String.join("; ", p.notes));
      }
      json.add(m);
      rows.add(row);
    }
    boolean healthy = report.healthy();
    var out = spec.commandLine().getOut();
    if (cluster.json()) {
      Map<String, Object> doc = new LinkedHashMap<>();
      doc.put("leader", report.leader() == null ? "" : report.leader().memberId());
      doc.put("healthy", healthy);
      doc.put("cluster_id", report.clusters().size() == 1 ? report.clusters().firstKey() : "");
      doc.put("members", json);
      doc.put("problems", report.problems());
      Output.json(out, doc);
    } else {
      List<String> header = new ArrayList<>(List.of("MEMBER", "ENDPOINT", "ROLE", "TERM", "APPLIED", "COMMIT", "LAG",
          "HEALTH"));
      if (notes) {
        header.add("NOTE");
      }
      Output.table(out, header, rows);
      out.println(report.leader() == null ? "no leader" : "leader: " + report.leader().memberId());
      String rules = applyRulesLine(report.probes().stream().map(p -> p.answer).toList());
      if (rules != null) {
        out.println(rules);
      }
      out.flush();
    }
    if (!report.problems().isEmpty()) {
      var err = spec.commandLine().getErr();
      report.problems().forEach(problem -> err.println("holdfast status: " + problem));
      err.flush();
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
