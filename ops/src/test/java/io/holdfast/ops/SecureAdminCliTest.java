package io.holdfast.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.ops.CliRunner.Run;
import io.holdfast.server.testing.ProcessCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The membership, leadership and backup commands on a cluster that wants bearer tokens: they
 * send the operator's token like every other command, and the cluster lets only an admin over
 * every name use them.
 */
class SecureAdminCliTest {
  @TempDir
  static Path dir;
  static ProcessCluster cluster;
  static String endpoints;
  static Path sreToken;
  static Path agentToken;

  @BeforeAll
  static void start() throws Exception {
    Path tokens = Files.writeString(dir.resolve("tokens"), "sre t-sre\nagent-7 t-agent\n");
    sreToken = Files.writeString(dir.resolve("sre.token"), "t-sre\n");
    agentToken = Files.writeString(dir.resolve("agent.token"), "t-agent\n");
    cluster = new ProcessCluster(3, dir.resolve("cluster"), Map.of("auth-token-file", tokens.toString(),
        "acl", "agent-*:fleet/:read+watch;sre::admin"));
    cluster.channelFactory(target -> io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder.forTarget(target)
        .usePlaintext().intercept(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(sreHeaders())).build());
    cluster.start();
    cluster.awaitLeader(Duration.ofSeconds(60));
    endpoints = String.join(",", cluster.endpoints());
  }

  static io.grpc.Metadata sreHeaders() {
    io.grpc.Metadata h = new io.grpc.Metadata();
    h.put(io.grpc.Metadata.Key.of("authorization", io.grpc.Metadata.ASCII_STRING_MARSHALLER), "Bearer t-sre");
    return h;
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void aWatchWithCredentialsTheClusterRefusesFailsAtOnce() throws Exception {
    Path wrong = Files.writeString(dir.resolve("wrong.token"), "t-wrong\n");
    long started = System.nanoTime();
    Run r = CliRunner.run("watch", "fleet/", "--endpoints", endpoints, "--token-file", wrong.toString(),
        "--timeout", "30s");
    assertEquals(1, r.code(), r.toString());
    assertTrue(r.err().contains("unknown bearer token"), r.toString());
    assertTrue(System.nanoTime() - started < Duration.ofSeconds(15).toNanos(), "waited out --timeout: " + r);
  }

  @Test
  void memberListSendsTheTokenAndNeedsOne() {
    Run withToken = CliRunner.run("member", "list", "--endpoints", endpoints, "--token-file", sreToken.toString(),
        "-o", "json");
    assertEquals(0, withToken.code(), withToken.toString());
    for (int i = 0; i < 3; i++) {
      assertTrue(withToken.out().contains("\"" + ProcessCluster.nodeId(i) + "\""), withToken.out());
    }

    Run without = CliRunner.run("member", "list", "--endpoints", endpoints, "--timeout", "2s");
    assertNotEquals(0, without.code(), without.toString());
    assertTrue(without.err().contains("UNAUTHENTICATED"), without.err());
  }

  @Test
  void leadershipAndBackupsAreForAdminsOnly() throws Exception {
    Run agent = CliRunner.run("leader", "transfer", "--endpoints", endpoints, "--token-file", agentToken.toString());
    assertNotEquals(0, agent.code(), agent.toString());
    assertTrue(agent.err().contains("PERMISSION_DENIED") || agent.err().contains("may not admin"), agent.err());

    Path agentBackup = dir.resolve("agent.backup");
    Run agentSave = CliRunner.run("snapshot", "save", agentBackup.toString(), "--endpoints", endpoints,
        "--token-file", agentToken.toString());
    assertNotEquals(0, agentSave.code(), agentSave.toString());
    assertFalse(Files.exists(agentBackup) && Files.size(agentBackup) > 0, "a backup was written for agent-7");

    Path backup = dir.resolve("sre.backup");
    Run save = CliRunner.run("snapshot", "save", backup.toString(), "--endpoints", endpoints,
        "--token-file", sreToken.toString());
    assertEquals(0, save.code(), save.toString());
    assertTrue(Files.size(backup) > 0);

    Run transfer = CliRunner.run("leader", "transfer", "--endpoints", endpoints, "--token-file", sreToken.toString());
    assertEquals(0, transfer.code(), transfer.toString());
  }

  @Test
  void aWatchTheClusterRefusesEndsWithTheErrorInsteadOfWaiting() {
    // agent-7 may watch fleet/ only. Before, the watch retried the refusal until --for ran out and exited 0.
    Run refused = CliRunner.run("watch", "other/", "--endpoints", endpoints, "--token-file", agentToken.toString(),
        "--for", "30s");
    assertNotEquals(0, refused.code(), refused.toString());
    assertTrue(refused.err().contains("may not watch"), refused.err());

    Run allowed = CliRunner.run("watch", "fleet/", "--endpoints", endpoints, "--token-file", agentToken.toString(),
        "--for", "1s");
    assertEquals(0, allowed.code(), allowed.toString());
  }
}
