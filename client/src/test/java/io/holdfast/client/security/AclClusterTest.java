package io.holdfast.client.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.client.AuditRecord;
import io.holdfast.client.HoldfastClient;
import io.holdfast.client.InvalidArgumentException;
import io.holdfast.client.LockDescription;
import io.holdfast.client.LockLease;
import io.holdfast.client.PermissionDeniedException;
import io.holdfast.client.RetryPolicy;
import io.holdfast.client.Session;
import io.holdfast.client.SessionDescription;
import io.holdfast.client.Watch;
import io.holdfast.client.WatchBatch;
import io.holdfast.proto.v1.AcquireRequest;
import io.holdfast.proto.v1.LockServiceGrpc;
import io.holdfast.server.testing.ProcessCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ACL of the example, through the client library with bearer tokens: orchestrator may
 * lock and write fleet/, agents may read and watch it, sre is admin. Each verb is checked allowed
 * and denied; a session id is useless to another identity; revoke needs admin.
 */
class AclClusterTest {
  static final Map<String, String> TOKENS = Map.of("orchestrator", "t-orch", "agent-7", "t-agent", "sre", "t-sre",
      "intruder", "t-intruder");
  @TempDir
  static Path dir;
  static ProcessCluster cluster;

  @BeforeAll
  static void start() throws Exception {
    StringBuilder t = new StringBuilder();
    TOKENS.forEach((who, tok) -> t.append(who).append(' ').append(tok).append('\n'));
    Path tokens = Files.writeString(dir.resolve("tokens"), t);
    cluster = new ProcessCluster(3, dir.resolve("cluster"), Map.of(
        "auth-token-file", tokens.toString(),
        "acl", "orchestrator:fleet/:lock+write+read;agent-*:fleet/:read+watch;sre::admin;intruder:fleet/:lock"));
    cluster.channelFactory(target -> io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder.forTarget(target)
        .usePlaintext().intercept(bearer("sre")).build());
    cluster.start();
    cluster.awaitLeader(Duration.ofSeconds(60));
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  static io.grpc.ClientInterceptor bearer(String who) {
    io.grpc.Metadata.Key<String> auth = io.grpc.Metadata.Key.of("authorization", io.grpc.Metadata.ASCII_STRING_MARSHALLER);
    return new io.grpc.ClientInterceptor() {
      @Override
      public <Q, R> io.grpc.ClientCall<Q, R> interceptCall(io.grpc.MethodDescriptor<Q, R> m, io.grpc.CallOptions o,
          io.grpc.Channel next) {
        return new io.grpc.ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(m, o)) {
          @Override
          public void start(Listener<R> l, io.grpc.Metadata h) {
            h.put(auth, "Bearer " + TOKENS.get(who));
            super.start(l, h);
          }
        };
      }
    };
  }

  static HoldfastClient as(String who) {
    return HoldfastClient.builder().endpoints(cluster.endpoints()).clientName("declared-" + who)
        .bearerToken(TOKENS.get(who)).callTimeout(Duration.ofSeconds(5))
        .retryPolicy(RetryPolicy.exponentialJitter(Duration.ofMillis(50), Duration.ofSeconds(1), Duration.ofSeconds(20)))
        .build();
  }

  @Test
  void theOrchestratorLocksAndWritesItsPrefixOnly() throws Exception {
    try (HoldfastClient orch = as("orchestrator"); Session s = orch.newSession(Duration.ofSeconds(10))) {
      try (LockLease lease = s.tryLock("fleet/config").orElseThrow()) {
        orch.kv().putFenced("fleet/config.yaml", "v1".getBytes(StandardCharsets.UTF_8), lease);
        assertEquals("v1", new String(orch.kv().get("fleet/config.yaml").orElseThrow().value(), StandardCharsets.UTF_8));
      }
      assertThrows(PermissionDeniedException.class, () -> s.tryLock("billing/ledger"));
      assertThrows(PermissionDeniedException.class, () -> orch.kv().put("billing/x", new byte[] {1}));
      assertThrows(PermissionDeniedException.class, () -> orch.kv().get("billing/x"));
    }
  }

  @Test
  void agentsReadAndWatchButNeitherLockNorWrite() throws Exception {
    try (HoldfastClient orch = as("orchestrator"); HoldfastClient agent = as("agent-7")) {
      orch.kv().put("fleet/agents.yaml", "a".getBytes(StandardCharsets.UTF_8));
      assertTrue(agent.kv().get("fleet/agents.yaml").isPresent());
      assertFalse(agent.describeLock("fleet/config").held());
      LinkedBlockingQueue<WatchBatch> seen = new LinkedBlockingQueue<>();
      try (Watch w = agent.watch(List.of(), List.of("fleet/"), 0, seen::add)) {
        orch.kv().put("fleet/agents.yaml", "b".getBytes(StandardCharsets.UTF_8));
        assertTrue(poll(seen, "fleet/agents.yaml"), "the agent's watch sees the write");
      }
      try (Session s = agent.newSession(Duration.ofSeconds(10))) {
        assertThrows(PermissionDeniedException.class, () -> s.tryLock("fleet/config"));
      }
      assertThrows(PermissionDeniedException.class, () -> agent.kv().put("fleet/agents.yaml", new byte[] {9}));
      assertThrows(PermissionDeniedException.class, () -> agent.kv().delete("fleet/agents.yaml"));
      assertThrows(PermissionDeniedException.class, () -> agent.kv().get("other/x"));
    }
  }

  private static boolean poll(LinkedBlockingQueue<WatchBatch> q, String key) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    while (System.nanoTime() < end) {
      WatchBatch b = q.poll(1, TimeUnit.SECONDS);
      if (b != null && b.toString().contains(key)) {
        return true;
      }
    }
    return false;
  }

  @Test
  void aSessionIdIsUselessToAnotherIdentity() throws Exception {
    try (HoldfastClient orch = as("orchestrator"); Session s = orch.newSession(Duration.ofSeconds(10))) {
      // The intruder may lock fleet/ itself, but not through the orchestrator's session.
      String leaderEndpoint = cluster.endpoint(cluster.awaitLeader(Duration.ofSeconds(30)));
      var stub = LockServiceGrpc.newBlockingStub(io.grpc.ClientInterceptors.intercept(
          io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder.forTarget(leaderEndpoint).usePlaintext().build(),
          bearer("intruder"))).withDeadlineAfter(10, TimeUnit.SECONDS);
      var req = AcquireRequest.newBuilder().setRequestId("stolen").setSessionId(s.id()).setLockName("fleet/stolen")
          .build();
      io.grpc.StatusRuntimeException e = assertThrows(io.grpc.StatusRuntimeException.class, () -> stub.acquire(req));
      assertEquals(io.grpc.Status.Code.PERMISSION_DENIED, e.getStatus().getCode());
      assertTrue(e.getStatus().getDescription().contains("opened it"), e.getStatus().getDescription());
      assertFalse(orch.describeLock("fleet/stolen").held(), "nothing was granted");

      SessionDescription d = orch.admin().sessions().stream().filter(x -> x.id() == s.id()).findFirst().orElseThrow();
      assertEquals("orchestrator", d.identity());
      assertEquals("declared-orchestrator", d.clientName());
    }
  }

  @Test
  void revokeAndAdminExpiryNeedAdmin() throws Exception {
    try (HoldfastClient orch = as("orchestrator"); HoldfastClient sre = as("sre");
         Session s = orch.newSession(Duration.ofSeconds(10))) {
      LockLease lease = s.tryLock("fleet/revoked").orElseThrow();
      assertThrows(PermissionDeniedException.class,
          () -> orch.admin().revoke("fleet/revoked", "not mine to take", 0, false, "orchestrator"));
      assertThrows(PermissionDeniedException.class, () -> orch.admin().expireSession(s.id(), "nope", "orchestrator"));
      assertTrue(orch.describeLock("fleet/revoked").held(), "the refused revoke changed nothing");

      sre.admin().revoke("fleet/revoked", "host is dead", 0, false, "claims-to-be-bob");
      assertFalse(sre.describeLock("fleet/revoked").held());
      AuditRecord last = sre.admin().audit(0, "fleet/revoked", 10).get(0);
      assertTrue(last.requestedBy().startsWith("sre "), "the audit names the authenticated admin: "
          + last.requestedBy());
      assertTrue(last.requestedBy().contains("claims-to-be-bob"), "with the declared name beside it");
      assertTrue(lease.token() > 0);
    }
  }

  @Test
  void aRevokeCannotHandTheLockToASessionWhoseIdentityMayNotLockIt() throws Exception {
    try (HoldfastClient orch = as("orchestrator"); HoldfastClient sre = as("sre"); HoldfastClient agent = as("agent-7");
         Session holder = orch.newSession(Duration.ofSeconds(10));
         Session reader = agent.newSession(Duration.ofSeconds(10))) {
      LockLease lease = holder.tryLock("fleet/handed").orElseThrow();
      InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
          () -> sre.admin().revoke("fleet/handed", "hand it on", reader.id(), false, "sre"));
      assertTrue(e.getMessage().contains("agent-7") && e.getMessage().contains("may not lock"), e.getMessage());
      LockDescription d = sre.describeLock("fleet/handed");
      assertEquals(holder.id(), d.holderSessionId(), "the refused revoke changed nothing");
      assertEquals(lease.token(), d.token());
    }
  }
}
