package io.holdfast.server.raft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.config.TlsSettings;
import io.holdfast.server.security.TlsFiles;
import io.holdfast.server.testing.TestPki;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.apache.ratis.grpc.GrpcTlsConfig;
import org.apache.ratis.thirdparty.io.grpc.Server;
import org.apache.ratis.thirdparty.io.grpc.ServerServiceDefinition;
import org.apache.ratis.thirdparty.io.grpc.netty.GrpcSslContexts;
import org.apache.ratis.thirdparty.io.grpc.netty.NettyServerBuilder;
import org.apache.ratis.thirdparty.io.netty.handler.ssl.ClientAuth;
import org.apache.ratis.thirdparty.io.netty.handler.ssl.SslContextBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The question a leader asks a node before it adds it or raises the rules: answered on a gRPC
 * server like Ratis's, in plaintext and under mutual TLS, and failed (so the node counts as an
 * old build) when nothing listens, the service is missing, or the caller's certificate is foreign.
 */
class BuildRulesServiceTest {
  @TempDir
  Path dir;

  @Test
  void aNodeSaysWhoItIsAndWhichRulesItKnows() throws Exception {
    Server server = NettyServerBuilder.forPort(0).addService(BuildRulesService.definition("n7", 5)).build().start();
    try {
      BuildRulesService.Answer a = BuildRulesService.ask("127.0.0.1:" + server.getPort(), null, 5_000).join();
      assertEquals(new BuildRulesService.Answer("n7", 5), a);
    } finally {
      server.shutdownNow();
    }
  }

  @Test
  void aPortWithoutTheServiceOrWithNothingListeningGivesNoAnswer() throws Exception {
    Server other = NettyServerBuilder.forPort(0).addService(ServerServiceDefinition.builder("some.Other").build())
        .build().start();
    try {
      CompletionException e = assertThrows(CompletionException.class,
          () -> BuildRulesService.ask("127.0.0.1:" + other.getPort(), null, 5_000).join());
      assertTrue(e.getCause().toString().contains("UNIMPLEMENTED"), e.toString());
    } finally {
      other.shutdownNow();
    }
    int free;
    try (ServerSocket s = new ServerSocket(0)) {
      free = s.getLocalPort();
    }
    assertThrows(CompletionException.class, () -> BuildRulesService.ask("127.0.0.1:" + free, null, 5_000).join());
  }

  @Test
  void underMutualTlsOnlyAPeerOfTheSameCaIsAnswered() throws Exception {
    TestPki pki = new TestPki(dir);
    TestPki.Pem ca = pki.newCa("peers");
    TestPki.Pem other = pki.newCa("other");
    ScheduledExecutorService reloader = Executors.newSingleThreadScheduledExecutor();
    try (TlsFiles serverSide = tls(pki.issue(ca, "n1"), ca, reloader);
        TlsFiles caller = tls(pki.issue(ca, "n2"), ca, reloader);
        TlsFiles stranger = tls(pki.issue(other, "n2"), ca, reloader)) {
      GrpcTlsConfig conf = serverSide.ratisConfig();
      Server server = NettyServerBuilder.forPort(0)
          .sslContext(GrpcSslContexts.configure(SslContextBuilder.forServer(conf.getKeyManager().getKeyManager()))
              .trustManager(conf.getTrustManager().getTrustManager()).clientAuth(ClientAuth.REQUIRE).build())
          .addService(BuildRulesService.definition("n1", 3)).build().start();
      try {
        String address = "127.0.0.1:" + server.getPort();
        assertEquals(new BuildRulesService.Answer("n1", 3),
            BuildRulesService.ask(address, caller.ratisConfig(), 10_000).join());
        assertThrows(CompletionException.class,
            () -> BuildRulesService.ask(address, stranger.ratisConfig(), 10_000).join());
        assertThrows(CompletionException.class, () -> BuildRulesService.ask(address, null, 10_000).join());
      } finally {
        server.shutdownNow();
      }
    } finally {
      reloader.shutdownNow();
    }
  }

  private static TlsFiles tls(TestPki.Pem cert, TestPki.Pem trust, ScheduledExecutorService reloader)
      throws Exception {
    return new TlsFiles(new TlsSettings(TlsSettings.Mode.MTLS, cert.cert(), cert.key(), trust.cert(), 60_000),
        reloader, true);
  }
}
