package io.holdfast.server.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.proto.v1.AcquireRequest;
import io.holdfast.proto.v1.ClientIdentity;
import io.holdfast.proto.v1.LockServiceGrpc;
import io.holdfast.proto.v1.KvServiceGrpc;
import io.holdfast.proto.v1.OpenSessionRequest;
import io.holdfast.proto.v1.PutRequest;
import io.holdfast.proto.v1.ReleaseRequest;
import io.holdfast.proto.v1.ValidateFenceRequest;
import io.holdfast.proto.v1.SessionServiceGrpc;
import io.holdfast.server.testing.Heartbeat;
import io.holdfast.server.testing.ProcessCluster;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each node's admin HTTP port, on a real cluster: metrics that move, liveness and readiness. */
class AdminHttpClusterTest {
  static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  static final Pattern SAMPLE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*\\})? (-?[0-9.eE+-]+|NaN|\\+Inf|-Inf)");

  @TempDir
  Path dir;
  ProcessCluster cluster;

  @AfterEach
  void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  static HttpResponse<String> get(String url) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** Parses Prometheus text format strictly enough to fail on anything malformed. */
  Map<String, Double> metrics(int node) throws Exception {
    HttpResponse<String> r = get(cluster.adminUrl(node) + "/metrics");
    assertEquals(200, r.statusCode(), r.body());
    Map<String, Double> out = new HashMap<>();
    for (String line : r.body().split("\n")) {
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      Matcher m = SAMPLE.matcher(line);
      assertTrue(m.matches(), "not a Prometheus sample line: " + line);
      if (m.group(2) == null) {
        out.put(m.group(1), Double.parseDouble(m.group(3)));
      }
    }
    return out;
  }

  @Test
  void metricsParseAndMoveWithLocksAndExpiries() throws Exception {
    // A low snapshot threshold, so that the snapshot size gauge is seen to move.
    cluster = new ProcessCluster(3, dir, Map.of("snapshot-threshold", "40")).start();
    int leader = cluster.awaitLeader(Duration.ofSeconds(60));
    Map<String, Double> before = metrics(leader);
    for (String name : List.of("holdfast_server_has_leader", "holdfast_server_is_leader", "holdfast_raft_term",
        "holdfast_raft_commit_index", "holdfast_raft_applied_index", "holdfast_raft_apply_lag",
        "holdfast_sessions_active", "holdfast_locks_held", "holdfast_locks_orphaned", "holdfast_lock_waiters",
        "holdfast_lock_grants_total", "holdfast_lock_releases_total", "holdfast_sessions_expired_total",
        "holdfast_server_leader_changes_seen_total", "holdfast_lock_stale_token_refusals_total",
        "holdfast_kv_fenced_write_refusals_total", "holdfast_sessions_opened_total",
        "holdfast_sessions_closed_total", "holdfast_sessions_admin_expired_total",
        "holdfast_sessions_taken_over_total", "holdfast_lock_revocations_total",
        "holdfast_keepalives_total", "holdfast_sessions_failover_grace_total",
        "holdfast_lock_acquire_duration_seconds_count", "holdfast_lock_acquire_wait_duration_seconds_count",
        "holdfast_raft_commit_duration_seconds_count", "holdfast_raft_snapshot_size_bytes",
        "holdfast_raft_log_sync_duration_seconds_count", "holdfast_raft_snapshot_duration_seconds_count")) {
      assertTrue(before.containsKey(name), name + " missing from /metrics: " + before.keySet());
    }
    assertEquals(1.0, before.get("holdfast_server_has_leader"));
    assertEquals(1.0, before.get("holdfast_server_is_leader"));
    assertEquals(0.0, before.get("holdfast_raft_snapshot_size_bytes"), "a fresh cluster has no snapshot");

    var sessions = SessionServiceGrpc.newBlockingStub(cluster.channel(leader));
    long session = sessions.openSession(OpenSessionRequest.newBuilder().setRequestId(UUID.randomUUID().toString())
        .setTtlMs(2_000).setClient(ClientIdentity.newBuilder().setName("<script>alert(1)</script>")).build())
        .getSessionId();
    // Alive until the checks that need its lock are done, then silent: it expires within its TTL.
    Heartbeat heartbeat = new Heartbeat(cluster.channel(leader), session, Duration.ofMillis(400));
    var locks = LockServiceGrpc.newBlockingStub(cluster.channel(leader));
    long token = locks.acquire(AcquireRequest.newBuilder()
        .setRequestId(UUID.randomUUID().toString()).setSessionId(session).setLockName("m/a").build()).getToken();
    Map<String, Double> held = metrics(leader);
    assertEquals(before.get("holdfast_sessions_opened_total") + 1, held.get("holdfast_sessions_opened_total"));

    // Refusals are counted apart: a lock call with a stale token, and a fenced write with one.
    assertThrows(io.grpc.StatusRuntimeException.class, () -> locks.release(ReleaseRequest.newBuilder()
        .setRequestId(UUID.randomUUID().toString()).setSessionId(session).setLockName("m/a").setToken(token - 1)
        .build()));
    var kv = KvServiceGrpc.newBlockingStub(cluster.channel(leader));
    assertThrows(io.grpc.StatusRuntimeException.class, () -> kv.put(PutRequest.newBuilder()
        .setRequestId(UUID.randomUUID().toString()).setKey("m/config").setFenceLock("m/a").setFenceToken(token - 1)
        .build()));
    assertFalse(kv.validateFence(ValidateFenceRequest.newBuilder().setLockName("m/a").setToken(token - 1).build())
        .getValid());
    Map<String, Double> refused = metrics(leader);
    assertEquals(before.get("holdfast_lock_stale_token_refusals_total") + 1,
        refused.get("holdfast_lock_stale_token_refusals_total"));
    assertEquals(before.get("holdfast_kv_fenced_write_refusals_total") + 2,
        refused.get("holdfast_kv_fenced_write_refusals_total"));

    // Enough writes to pass the snapshot threshold: the snapshot size gauge moves on every node.
    for (int i = 0; i < 50; i++) {
      kv.put(PutRequest.newBuilder().setRequestId(UUID.randomUUID().toString()).setKey("m/k" + i)
          .setFenceLock("m/a").setFenceToken(token).build());
    }
    long snapEnd = System.nanoTime() + 15_000_000_000L;
    while (metrics(leader).get("holdfast_raft_snapshot_size_bytes") <= 0 && System.nanoTime() < snapEnd) {
      Thread.sleep(200);
    }
    assertTrue(metrics(leader).get("holdfast_raft_snapshot_size_bytes") > 0, "a snapshot was taken and measured");
    // The status page's data: the lock with its holder, whose name is user input and goes out inert.
    String overview = get(cluster.adminUrl(leader) + "/api/overview").body();
    assertTrue(overview.contains("\"name\":\"m/a\"") && overview.contains("\"state\":\"HELD\""), overview);
    assertTrue(overview.contains("\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"), overview);
    assertTrue(!overview.contains("<script>"), overview);
    HttpResponse<String> page = get(cluster.adminUrl(leader) + "/");
    assertEquals(200, page.statusCode());
    assertTrue(page.body().contains("/api/overview") && page.body().contains("textContent"), "the page renders text only");
    String raw = get(cluster.adminUrl(leader) + "/metrics").body();
    assertTrue(raw.contains("holdfast_grpc_requests_total{code=\"OK\",method=\"LockService_Acquire\"} 1.0"), raw);
    assertTrue(raw.contains("holdfast_grpc_request_duration_seconds{method=\"LockService_Acquire\",quantile=\"0.99\"}"),
        raw);
    assertTrue(raw.contains("holdfast_grpc_open_calls"), raw);
    assertEquals(1.0, held.get("holdfast_locks_held"));
    assertEquals(before.get("holdfast_lock_grants_total") + 1, held.get("holdfast_lock_grants_total"));
    // Ratis's own metrics, bridged: the leader has fsynced its log.
    assertTrue(held.getOrDefault("holdfast_raft_log_sync_duration_seconds_count", 0.0) > 0, held.keySet().toString());

    heartbeat.close();
    long end = System.nanoTime() + 15_000_000_000L;
    Map<String, Double> after = held;
    while (after.get("holdfast_sessions_expired_total") < before.get("holdfast_sessions_expired_total") + 1
        && System.nanoTime() < end) {
      Thread.sleep(200);
      after = metrics(leader);
    }
    assertEquals(before.get("holdfast_sessions_expired_total") + 1, after.get("holdfast_sessions_expired_total"));
    assertEquals(0.0, after.get("holdfast_locks_held"));
    // Every node counts the same applied events.
    int follower = (leader + 1) % 3;
    end = System.nanoTime() + 10_000_000_000L;
    while (metrics(follower).get("holdfast_sessions_expired_total") < after.get("holdfast_sessions_expired_total")
        && System.nanoTime() < end) {
      Thread.sleep(100);
    }
    assertEquals(after.get("holdfast_sessions_expired_total"), metrics(follower).get("holdfast_sessions_expired_total"));
    // The expiry and the lock it freed are logged at INFO once on every node, naming session, lock and token.
    String freed = "lock=m/a freed session=" + session + " token=" + token + " reason=EXPIRED";
    String ended = "session=" + session + " ended reason=EXPIRED";
    for (int i = 0; i < 3; i++) {
      String log = java.nio.file.Files.readString(cluster.log(i));
      assertEquals(1, occurrences(log, freed), "node " + i + ": " + freed + "\n" + log);
      assertEquals(1, occurrences(log, ended), "node " + i + ": " + ended);
    }
    assertTrue(get(cluster.adminUrl(leader) + "/status").body().contains("\"role\":\"LEADER\""));
    // The standard gRPC health service on the client port.
    var health = io.grpc.health.v1.HealthGrpc.newBlockingStub(cluster.channel(follower))
        .check(io.grpc.health.v1.HealthCheckRequest.getDefaultInstance());
    assertEquals(io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING, health.getStatus());
  }

  static int occurrences(String text, String part) {
    int n = 0;
    for (int at = text.indexOf(part); at >= 0; at = text.indexOf(part, at + 1)) {
      n++;
    }
    return n;
  }

  @Test
  void readyzFailsOnANodeCutOffFromTheMajorityAndLivezStaysUp() throws Exception {
    // The status page switched off on the way: the rest of the port still serves.
    cluster = new ProcessCluster(3, dir, Map.of("admin-status-page", "off")).start();
    int leader = cluster.awaitLeader(Duration.ofSeconds(60));
    HttpResponse<String> page = get(cluster.adminUrl(leader) + "/");
    assertEquals(404, page.statusCode());
    assertTrue(page.body().contains("admin-status-page: off"), page.body());
    assertEquals(404, get(cluster.adminUrl(leader) + "/api/overview").statusCode());
    assertEquals(200, get(cluster.adminUrl(leader) + "/status").statusCode());
    for (int i = 0; i < 3; i++) {
      assertEquals(200, get(cluster.adminUrl(i) + "/readyz").statusCode(), "node " + i);
      assertEquals(200, get(cluster.adminUrl(i) + "/livez").statusCode(), "node " + i);
    }
    // Kill the leader: the followers stay alive through the election.
    cluster.kill(leader);
    int a = (leader + 1) % 3;
    int b = (leader + 2) % 3;
    for (int k = 0; k < 10; k++) {
      assertEquals(200, get(cluster.adminUrl(a) + "/livez").statusCode());
      Thread.sleep(50);
    }
    cluster.start(leader);
    cluster.awaitLeader(Duration.ofSeconds(30));

    // Cut node a off from the majority by killing both others.
    cluster.kill(leader);
    cluster.kill(b);
    long end = System.nanoTime() + 20_000_000_000L;
    HttpResponse<String> r = get(cluster.adminUrl(a) + "/readyz");
    while (r.statusCode() == 200 && System.nanoTime() < end) {
      Thread.sleep(200);
      r = get(cluster.adminUrl(a) + "/readyz");
    }
    assertEquals(503, r.statusCode());
    assertTrue(r.body().startsWith("failed: "), r.body());
    assertEquals(200, get(cluster.adminUrl(a) + "/livez").statusCode(), "alone, but alive");

    cluster.start(leader);
    cluster.start(b);
    cluster.awaitLeader(Duration.ofSeconds(30));
    end = System.nanoTime() + 20_000_000_000L;
    while (get(cluster.adminUrl(a) + "/readyz").statusCode() != 200 && System.nanoTime() < end) {
      Thread.sleep(200);
    }
    assertEquals(200, get(cluster.adminUrl(a) + "/readyz").statusCode(), "ready again after rejoining");
  }
}
