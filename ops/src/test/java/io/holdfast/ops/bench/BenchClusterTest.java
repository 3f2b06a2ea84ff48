package io.holdfast.ops.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.ops.HoldfastCli;
import io.holdfast.ops.cli.ExitCodes;
import io.holdfast.server.testing.ProcessCluster;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Each bench workload, run small through the CLI against a real cluster: it prints its figures as
 * JSON, and its safety checks ran (no timing is asserted here except where the bound is the
 * behaviour: an orphaned lock moves within its TTL plus a generous margin).
 */
class BenchClusterTest {
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  static Path dir;
  static ProcessCluster cluster;

  @BeforeAll
  static void start() {
    cluster = new ProcessCluster(3, dir.resolve("cluster"), java.util.Map.of("checkpoint-interval-ms", "250")).start();
    cluster.awaitLeader(Duration.ofSeconds(60));
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  record Run(int code, String out, String err) {
    JsonNode json() throws Exception {
      return JSON.readTree(out);
    }
  }

  static Run bench(String... args) {
    List<String> a = new ArrayList<>(List.of("bench"));
    a.addAll(List.of(args));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = HoldfastCli.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute(a.toArray(new String[0]));
    return new Run(code, out.toString(), err.toString());
  }

  static String endpoints() {
    return String.join(",", cluster.endpoints());
  }

  @Test
  void locksOwnAndSharedPrintFiguresAndCheckEveryHold() throws Exception {
    Run own = bench("locks", "--endpoints", endpoints(), "--clients", "3", "--duration", "2s", "--warmup", "0s",
        "-o", "json");
    assertEquals(0, own.code(), own.err());
    JsonNode f = own.json().get("figures");
    assertEquals("OK", own.json().get("verdict").asText());
    assertTrue(f.get("ops").asLong() > 0, own.out());
    assertTrue(f.get("holds_checked").asLong() >= f.get("ops").asLong(), own.out());
    assertTrue(f.get("acquire_release_p99_ms").asDouble() > 0, own.out());

    // Holds of 2 ms give the overlap check a window to see a second holder in.
    Run shared = bench("locks", "--endpoints", endpoints(), "--clients", "3", "--duration", "2s", "--warmup", "0s",
        "--shared", "--hold", "2ms", "--prefix", "bench/test-shared/", "-o", "json");
    assertEquals(0, shared.code(), shared.err());
    JsonNode s = shared.json().get("figures");
    assertTrue(s.has("fairness_max_over_min"), shared.out());
    assertTrue(s.get("holds_checked").asLong() > 3, shared.out());
    assertEquals(2.0, s.get("hold_ms").asDouble(), shared.out());
    assertEquals(0, s.get("sessions_lost").asLong());
    assertEquals(0, s.get("locks_lost").asLong());
  }

  @Test
  void aRunInWhichNoLockWasEverHeldFailsForNothingWasChecked() throws Exception {
    // Every acquire is refused (a space is not allowed in a lock name): a run that checked nothing.
    Run r = bench("locks", "--endpoints", endpoints(), "--clients", "2", "--duration", "1s", "--warmup", "0s",
        "--prefix", "bench/no such/", "-o", "json");
    assertEquals(ExitCodes.FAILED, r.code(), r.out() + r.err());
    assertEquals("FAILED", r.json().get("verdict").asText(), r.out());
    assertTrue(r.json().get("violations").toString().contains("nothing was checked"), r.out());
  }

  @Test
  void sessionsAreAllKeptAlive() throws Exception {
    Run r = bench("sessions", "--endpoints", endpoints(), "--sessions", "300", "--ttl", "3s", "--hold", "4s",
        "--streams", "2", "-o", "json");
    assertEquals(0, r.code(), r.out() + r.err());
    JsonNode f = r.json().get("figures");
    assertEquals(0, f.get("sessions_lost").asLong());
    // 300 sessions at a third of 3 s for 4 s: at least one full round of keepalives came back.
    assertTrue(f.get("keepalives_acked").asLong() >= 300, r.out());
  }

  @Test
  void anOrphanedLockReachesTheWaiterWithinItsTtlAndAHigherToken() throws Exception {
    Run r = bench("orphan", "--endpoints", endpoints(), "--trials", "2", "--ttl", "2s", "--seed", "7", "-o", "json");
    assertEquals(0, r.code(), r.out() + r.err());
    JsonNode f = r.json().get("figures");
    assertEquals(2, f.get("trials").asInt());
    assertTrue(f.get("reclaim_ms_max").asLong() <= 2_000 + 2_000, "reclaimed within TTL + 2 s: " + r.out());
  }

  @Test
  void memoryReportsBytesPerSessionAndLock() throws Exception {
    Run r = bench("memory", "--count", "20000", "-o", "json");
    assertEquals(0, r.code(), r.err());
    JsonNode f = r.json().get("figures");
    assertTrue(f.get("bytes_per_session").asLong() > 0, r.out());
    assertTrue(f.get("bytes_per_held_lock").asLong() > 0, r.out());
  }

  @Test
  void failoverKillsTheLeaderOfItsOwnLocalClusterAndMeasuresTheGap() throws Exception {
    Run r = bench("failover", "--local", "3", "--local-dir", dir.resolve("failover").toString(), "--trials", "1",
        "--settle", "2s", "-o", "json");
    assertEquals(0, r.code(), r.out() + r.err());
    JsonNode f = r.json().get("figures");
    assertEquals(1, f.get("trials").asInt());
    assertTrue(f.get("unavailable_ms_max").asLong() > 0, r.out());
    assertTrue(f.get("ops").asLong() > 0, r.out());
  }

  @Test
  void badInputIsAUsageErrorThatStartsNothing() {
    Run failover = bench("failover", "--endpoints", endpoints());
    assertEquals(2, failover.code());
    assertTrue(failover.err().contains("--local 3"), failover.err());
    Run clients = bench("locks", "--endpoints", endpoints(), "--clients", "0");
    assertEquals(2, clients.code());
    assertTrue(clients.err().contains("--clients must be between 1 and 10000"), clients.err());
    Run both = bench("locks", "--endpoints", endpoints(), "--local", "3");
    assertEquals(2, both.code());
    assertTrue(both.err().contains("not both"), both.err());
    Run ttl = bench("orphan", "--endpoints", endpoints(), "--ttl", "100ms");
    assertEquals(2, ttl.code());
    assertTrue(ttl.err().contains("--ttl must be between"), ttl.err());
  }
}
