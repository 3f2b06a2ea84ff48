package io.holdfast.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.server.testing.ProcessCluster;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/**
 * The alert rules and the dashboard parse, every alert has a severity, a summary and a runbook that
 * exists, and every metric they name is one a real node exports.
 */
class MonitoringFilesTest {
  static final Path OPS = Path.of(System.getProperty("basedir", ".")).toAbsolutePath();
  static final Pattern METRIC = Pattern.compile("holdfast_[a-z_]+");

  @TempDir
  Path dir;

  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> rules() throws Exception {
    Map<String, Object> doc = new Yaml().load(Files.readString(OPS.resolve("prometheus/alerts.yml")));
    List<Map<String, Object>> out = new ArrayList<>();
    for (Map<String, Object> group : (List<Map<String, Object>>) doc.get("groups")) {
      out.addAll((List<Map<String, Object>>) group.get("rules"));
    }
    return out;
  }

  static List<String> dashboardExprs() throws Exception {
    JsonNode dash = new ObjectMapper().readTree(OPS.resolve("grafana/holdfast.json").toFile());
    List<String> out = new ArrayList<>();
    for (JsonNode p : dash.get("panels")) {
      assertFalse(p.get("title").asText().isEmpty());
      for (JsonNode t : p.get("targets")) {
        out.add(t.get("expr").asText());
      }
    }
    return out;
  }

  @Test
  @SuppressWarnings("unchecked")
  void alertRulesAreCompleteAndLinkRunbooksThatExist() throws Exception {
    List<Map<String, Object>> rules = rules();
    Set<String> names = new TreeSet<>();
    for (Map<String, Object> r : rules) {
      String alert = (String) r.get("alert");
      assertTrue(names.add(alert), "duplicate alert " + alert);
      assertFalse(String.valueOf(r.get("expr")).isBlank(), alert);
      Map<String, Object> labels = (Map<String, Object>) r.get("labels");
      assertTrue(Set.of("warning", "critical").contains(labels.get("severity")), alert);
      Map<String, Object> ann = (Map<String, Object>) r.get("annotations");
      assertFalse(String.valueOf(ann.get("summary")).isBlank(), alert);
      String runbook = String.valueOf(ann.get("runbook_url"));
      assertTrue(Files.exists(OPS.getParent().resolve(runbook)), alert + ": runbook " + runbook + " missing");
    }
    assertTrue(names.containsAll(Set.of("HoldfastNoLeader", "HoldfastFrequentLeaderChanges", "HoldfastSlowCommits", "HoldfastSlowFsync",
        "HoldfastHighApplyLag", "HoldfastSessionExpiryBurst", "HoldfastFencingRefusals", "HoldfastMemberDown")), names.toString());
  }

  /**
   * Prometheus's own checker on the rules, and its rule unit tests ({@code alerts_test.yml}: each
   * alert fires on the series it is for and stays quiet before its {@code for}). {@code .ci/run}
   * fetches promtool from Debian's prometheus package; elsewhere the test is skipped, saying so.
   */
  @Test
  void promtoolChecksTheRulesAndTheirUnitTestsPass() throws Exception {
    String promtool = promtool();
    Assumptions.assumeTrue(promtool != null,
        "promtool not found (set PROMTOOL or put it on PATH; .ci/run fetches it): skipping promtool checks");
    String checked = run(promtool, "check", "rules", "alerts.yml");
    assertTrue(checked.contains("SUCCESS: " + rules().size() + " rules found"), checked);
    String tests = run(promtool, "test", "rules", "alerts_test.yml");
    assertTrue(tests.contains("SUCCESS"), tests);
  }

  static String promtool() {
    String env = System.getenv("PROMTOOL");
    if (env != null && Files.isExecutable(Path.of(env))) {
      return env;
    }
    for (String d : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
      if (!d.isEmpty() && Files.isExecutable(Path.of(d, "promtool"))) {
        return Path.of(d, "promtool").toString();
      }
    }
    return null;
  }

  /** Runs promtool in ops/prometheus; fails the test with its output unless it exits 0. */
  static String run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).directory(OPS.resolve("prometheus").toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "promtool hung");
    assertEquals(0, p.exitValue(), String.join(" ", cmd) + ":\n" + out);
    return out;
  }

  @Test
  void everyMetricTheAlertsAndTheDashboardNameIsExportedByARealNode() throws Exception {
    Set<String> wanted = new TreeSet<>();
    List<String> exprs = new ArrayList<>(dashboardExprs());
    rules().forEach(r -> exprs.add(String.valueOf(r.get("expr"))));
    for (String e : exprs) {
      Matcher m = METRIC.matcher(e);
      while (m.find()) {
        wanted.add(m.group());
      }
    }
    assertTrue(wanted.size() >= 15, wanted.toString());
    try (ProcessCluster one = new ProcessCluster(1, dir).start()) {
      one.awaitLeader(Duration.ofSeconds(60));
      String body = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(one.adminUrl(0) + "/metrics"))
          .build(), HttpResponse.BodyHandlers.ofString()).body();
      Set<String> exported = new TreeSet<>();
      Matcher m = METRIC.matcher(body);
      while (m.find()) {
        exported.add(m.group());
      }
      Set<String> missing = new TreeSet<>(wanted);
      missing.removeAll(exported);
      assertEquals(Set.of(), missing, "named in alerts or dashboard but not exported");
    }
  }
}
