package io.holdfast.server.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.holdfast.proto.v1.ClientIdentity;
import io.holdfast.proto.v1.DescribeLockRequest;
import io.holdfast.proto.v1.KeepAliveRequest;
import io.holdfast.proto.v1.KeepAliveResponse;
import io.holdfast.proto.v1.LockServiceGrpc;
import io.holdfast.proto.v1.OpenSessionRequest;
import io.holdfast.proto.v1.SessionServiceGrpc;
import io.holdfast.server.testing.ProcessCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The per-identity limits (sessions, request rate) hold for an authenticated identity, and not for
 * the anonymous one, which is every unauthenticated client at once; an identity over its rate can
 * still keep its sessions alive, and one whose token is revoked cannot.
 */
class IdentityLimitsClusterTest {
  @TempDir
  Path dir;

  static Channel as(Channel ch, String token) {
    Metadata h = new Metadata();
    h.put(AuthInterceptor.AUTHORIZATION, "Bearer " + token);
    return ClientInterceptors.intercept(ch, MetadataUtils.newAttachHeadersInterceptor(h));
  }

  static long open(Channel ch) {
    return open(ch, UUID.randomUUID().toString());
  }

  static long open(Channel ch, String requestId) {
    return SessionServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
        .openSession(OpenSessionRequest.newBuilder().setRequestId(requestId).setTtlMs(30_000)
            .setClient(ClientIdentity.newBuilder().setName("limits").setHost("localhost").setPid(1)).build())
        .getSessionId();
  }

  /** How many of {@code n} back-to-back calls were refused for the rate. */
  static int rateRefusals(Channel ch, int n) {
    int refused = 0;
    for (int i = 0; i < n; i++) {
      try {
        LockServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
            .describeLock(DescribeLockRequest.newBuilder().setLockName("x").build());
      } catch (StatusRuntimeException e) {
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), e.toString());
        assertTrue(e.getStatus().getDescription().contains("rate-limit-per-identity"), e.toString());
        refused++;
      }
    }
    return refused;
  }

  static final Map<String, String> LIMITS = Map.of("max-sessions-per-identity", "2",
      "rate-limit-per-identity", "2", "rate-limit-burst", "10");

  @Test
  void theAnonymousIdentityOfAClusterWithoutAuthHasNoLimits() {
    // Every unauthenticated client is "anonymous": one bucket for all would cap the whole cluster.
    try (ProcessCluster cluster = new ProcessCluster(1, dir.resolve("open"), LIMITS).start()) {
      Channel anonymous = cluster.channel(cluster.awaitLeader(Duration.ofSeconds(60)));
      for (int i = 0; i < 3; i++) {
        open(anonymous);
      }
      assertEquals(0, rateRefusals(anonymous, 40));
    }
  }

  @Test
  void theClusterWideSessionLimitCountsEveryoneAndStillAnswersRetries() {
    Map<String, String> settings = Map.of("max-sessions", "2");
    try (ProcessCluster cluster = new ProcessCluster(1, dir.resolve("capped"), settings).start()) {
      Channel anonymous = cluster.channel(cluster.awaitLeader(Duration.ofSeconds(60)));
      long first = openKeyed(anonymous, "agent-7");
      long second = open(anonymous, "second-open");

      StatusRuntimeException third = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
          () -> open(anonymous));
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, third.getStatus().getCode());
      assertTrue(third.getStatus().getDescription().contains("max-sessions"), third.toString());
      assertEquals(second, open(anonymous, "second-open"), "a retried open gets its session, limit or not");
      // A restarted agent taking over its ghost's key adds no session: allowed at the cap.
      long again = openKeyed(anonymous, "agent-7");
      assertTrue(again > first, again + " after " + first);

      SessionServiceGrpc.newBlockingStub(anonymous).withDeadlineAfter(10, TimeUnit.SECONDS).closeSession(
          io.holdfast.proto.v1.CloseSessionRequest.newBuilder().setRequestId(UUID.randomUUID().toString())
              .setSessionId(again).build());
      assertTrue(open(anonymous) > again, "a closed session makes room");
    }
  }

  static long openKeyed(Channel ch, String key) {
    return SessionServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
        .openSession(OpenSessionRequest.newBuilder().setRequestId(UUID.randomUUID().toString()).setTtlMs(30_000)
            .setExclusiveKey(key).setClient(ClientIdentity.newBuilder().setName("limits").setHost("localhost")
                .setPid(2)).build()).getSessionId();
  }

  @Test
  void anAuthenticatedIdentityIsLimitedButMayStillRenewItsSessions() throws Exception {
    Path tokens = Files.writeString(dir.resolve("tokens"), "alice tok-alice\nsre tok-sre\n");
    Map<String, String> settings = new java.util.HashMap<>(LIMITS);
    settings.put("auth-token-file", tokens.toString());
    ProcessCluster c = new ProcessCluster(1, dir.resolve("secured"), settings);
    try (ProcessCluster cluster = c.start()) {
      int leader = awaitLeaderAs(cluster, "tok-sre");
      Channel alice = as(cluster.channel(leader), "tok-alice");

      long first = open(alice);
      open(alice);
      StatusRuntimeException third = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
          () -> open(alice));
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, third.getStatus().getCode());
      assertTrue(third.getStatus().getDescription().contains("live sessions"), third.toString());

      assertTrue(rateRefusals(alice, 40) >= 20, "alice's bucket of 10 refills at 2 a second");

      // With her bucket empty, alice still renews her session on a new stream.
      CompletableFuture<KeepAliveResponse> answer = new CompletableFuture<>();
      StreamObserver<KeepAliveRequest> stream = SessionServiceGrpc.newStub(alice).keepAlive(new StreamObserver<>() {
        @Override
        public void onNext(KeepAliveResponse r) {
          answer.complete(r);
        }

        @Override
        public void onError(Throwable t) {
          answer.completeExceptionally(t);
        }

        @Override
        public void onCompleted() {}
      });
      stream.onNext(KeepAliveRequest.newBuilder().setSessionId(first).setSeq(1).build());
      assertTrue(answer.get(10, TimeUnit.SECONDS).getAlive());
      stream.onCompleted();

      // Keepalives for sessions that do not exist each cost a lookup: they are charged to her rate.
      KeepAlives madeUp = new KeepAlives(alice);
      for (long id = 1; id <= 40; id++) {
        madeUp.requests.onNext(KeepAliveRequest.newBuilder().setSessionId(1_000_000_000_000L + id).setSeq(1).build());
      }
      Status end = madeUp.ended.get(10, TimeUnit.SECONDS);
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, end.getCode(), end.toString());
      assertTrue(madeUp.answers.size() < 40, "all 40 made-up ids were looked up: " + madeUp.answers.size());
    }
  }

  /** A keepalive stream whose answers and end the test can wait for. */
  static final class KeepAlives implements StreamObserver<KeepAliveResponse> {
    final java.util.concurrent.LinkedBlockingQueue<KeepAliveResponse> answers = new java.util.concurrent.LinkedBlockingQueue<>();
    final CompletableFuture<Status> ended = new CompletableFuture<>();
    StreamObserver<KeepAliveRequest> requests;

    KeepAlives(Channel ch) {
      requests = SessionServiceGrpc.newStub(ch).keepAlive(this);
    }

    boolean renews(long session, long seq) throws InterruptedException {
      requests.onNext(KeepAliveRequest.newBuilder().setSessionId(session).setSeq(seq).build());
      KeepAliveResponse r = answers.poll(10, TimeUnit.SECONDS);
      return r != null && r.getAlive();
    }

    @Override
    public void onNext(KeepAliveResponse r) {
      answers.add(r);
    }

    @Override
    public void onError(Throwable t) {
      ended.complete(Status.fromThrowable(t));
    }

    @Override
    public void onCompleted() {
      ended.complete(Status.OK);
    }
  }

  @Test
  void aRevokedTokenEndsTheStreamsOpenedWithItAndNoOthers() throws Exception {
    Path tokens = Files.writeString(dir.resolve("tokens"), "alice tok-alice\nsre tok-sre\n");
    Map<String, String> settings = new java.util.HashMap<>(LIMITS);
    settings.put("auth-token-file", tokens.toString());
    try (ProcessCluster cluster = new ProcessCluster(1, dir.resolve("revoked"), settings).start()) {
      int leader = awaitLeaderAs(cluster, "tok-sre");
      Channel alice = as(cluster.channel(leader), "tok-alice");
      Channel sre = as(cluster.channel(leader), "tok-sre");
      long aliceSession = open(alice);
      long sreSession = open(sre);
      KeepAlives aliceStream = new KeepAlives(alice);
      KeepAlives sreStream = new KeepAlives(sre);
      assertTrue(aliceStream.renews(aliceSession, 1));
      assertTrue(sreStream.renews(sreSession, 1));
      CompletableFuture<Status> aliceWatch = new CompletableFuture<>();
      io.holdfast.proto.v1.WatchServiceGrpc.newStub(alice).watch(io.holdfast.proto.v1.WatchRequest.newBuilder()
          .addLockPrefixes("").build(), new StreamObserver<io.holdfast.proto.v1.WatchResponse>() {
            @Override
            public void onNext(io.holdfast.proto.v1.WatchResponse r) {}

            @Override
            public void onError(Throwable t) {
              aliceWatch.complete(Status.fromThrowable(t));
            }

            @Override
            public void onCompleted() {
              aliceWatch.complete(Status.OK);
            }
          });
      awaitMetric(cluster, leader, "holdfast_watch_streams", 1);

      // alice's token is revoked: the file is rewritten without it (as a rotation would).
      Files.writeString(tokens, "sre tok-sre\n");
      Status end = aliceStream.ended.get(15, TimeUnit.SECONDS);
      assertEquals(Status.Code.UNAUTHENTICATED, end.getCode(), end.toString());
      assertTrue(end.getDescription().contains("revoked"), end.toString());
      assertEquals(Status.Code.UNAUTHENTICATED, aliceWatch.get(15, TimeUnit.SECONDS).getCode());
      awaitMetric(cluster, leader, "holdfast_watch_streams", 0);   // the hub let go of it too

      assertTrue(sreStream.renews(sreSession, 2), "a stream whose token stands goes on");
      assertTrue(!sreStream.ended.isDone());
      StatusRuntimeException reopened = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
          () -> open(alice));
      assertEquals(Status.Code.UNAUTHENTICATED, reopened.getStatus().getCode());
      sreStream.requests.onCompleted();
    }
  }

  static void awaitMetric(ProcessCluster cluster, int node, String name, long expected) throws Exception {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    String last = "";
    while (System.nanoTime() < end) {
      var r = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
          java.net.URI.create(cluster.adminUrl(node) + "/metrics")).build(),
          java.net.http.HttpResponse.BodyHandlers.ofString());
      for (String line : r.body().split("\n")) {
        if (line.startsWith(name + " ")) {
          last = line;
          if ((long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)) == expected) {
            return;
          }
        }
      }
      Thread.sleep(100);
    }
    throw new AssertionError(name + " did not reach " + expected + "; last: " + last);
  }

  /** The node leads once it answers a status call (as sre, who has no limits to spend here). */
  static int awaitLeaderAs(ProcessCluster cluster, String token) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < end) {
      try {
        var st = io.holdfast.proto.v1.AdminServiceGrpc.newBlockingStub(as(cluster.channel(0), token))
            .withDeadlineAfter(2, TimeUnit.SECONDS).clusterStatus(
                io.holdfast.proto.v1.ClusterStatusRequest.getDefaultInstance());
        // Ready, not only elected: these calls do not retry, and a leader whose first entry of the
        // term is not applied yet refuses writes ("no leader is ready yet"). On a new cluster,
        // anything applied is that entry.
        if (st.getRole().equals("LEADER") && st.getAppliedIndex() > 0 && st.getAppliedIndex() >= st.getCommitIndex()) {
          return 0;
        }
      } catch (StatusRuntimeException notYet) {
        // starting
      }
      // Below the identity's rate (2 a second): the test's own calls need its burst.
      Thread.sleep(600);
    }
    throw new AssertionError("no leader within 60 s");
  }
}
