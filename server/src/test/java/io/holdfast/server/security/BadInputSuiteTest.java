package io.holdfast.server.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.ByteString;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ForwardingClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.holdfast.proto.v1.AcquireRequest;
import io.holdfast.proto.v1.AdminServiceGrpc;
import io.holdfast.proto.v1.AuditEntry;
import io.holdfast.proto.v1.CancelWaitRequest;
import io.holdfast.proto.v1.ClientIdentity;
import io.holdfast.proto.v1.CloseSessionRequest;
import io.holdfast.proto.v1.DeleteRequest;
import io.holdfast.proto.v1.DescribeLockRequest;
import io.holdfast.proto.v1.ExpireSessionRequest;
import io.holdfast.proto.v1.GetRequest;
import io.holdfast.proto.v1.KeepAliveRequest;
import io.holdfast.proto.v1.KeepAliveResponse;
import io.holdfast.proto.v1.KeyValue;
import io.holdfast.proto.v1.KvServiceGrpc;
import io.holdfast.proto.v1.ListAuditRequest;
import io.holdfast.proto.v1.ListLocksRequest;
import io.holdfast.proto.v1.ListRequest;
import io.holdfast.proto.v1.ListSessionsRequest;
import io.holdfast.proto.v1.LockInfo;
import io.holdfast.proto.v1.LockServiceGrpc;
import io.holdfast.proto.v1.OpenSessionRequest;
import io.holdfast.proto.v1.PutRequest;
import io.holdfast.proto.v1.ReleaseRequest;
import io.holdfast.proto.v1.RevokeRequest;
import io.holdfast.proto.v1.SessionInfo;
import io.holdfast.proto.v1.SessionServiceGrpc;
import io.holdfast.proto.v1.ValidateFenceRequest;
import io.holdfast.proto.v1.WatchRequest;
import io.holdfast.proto.v1.WatchServiceGrpc;
import io.holdfast.server.testing.ProcessCluster;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every RPC driven with malformed, out-of-range, oversized, unknown-id, other-identity and replayed
 * input on a real 3-node cluster with tokens, an ACL and small limits. Each case must get its
 * status code and leave the state as it was (a digest of sessions, locks, keys and audit read
 * through the API, from the leader after every case and from every node periodically); what was
 * acknowledged before the suite is still there after it. Then raw bytes on the client and peer
 * ports: the cluster keeps serving, and still elects a new leader when its leader dies.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class BadInputSuiteTest {
  static final int MAX_NAME = 64;
  static final int MAX_VALUE = 1024;
  static final long TTL = 300_000;
  static final Map<String, String> TOKENS = Map.of(
      "sre", "tok-sre-1", "orchestrator", "tok-orch-1", "orchestrator-b", "tok-orch-2", "agent-7", "tok-agent-7",
      "mallory", "tok-mallory", "limited", "tok-limited", "watch-only", "tok-watch-only", "wide", "tok-wide");

  @TempDir
  static Path dir;
  static ProcessCluster cluster;
  static int leader;
  static final List<ManagedChannel> extraChannels = new ArrayList<>();
  static final Map<String, Object> baseline = new LinkedHashMap<>();
  static String digestBefore;
  static long s1;
  static long s2;
  static long[] lim = new long[4];
  static long tokenA;
  static long revCfg;

  @BeforeAll
  static void start() throws Exception {
    StringBuilder tokens = new StringBuilder("# identity token\n");
    TOKENS.forEach((who, tok) -> tokens.append(who).append(' ').append(tok).append('\n'));
    Path tokenFile = Files.writeString(dir.resolve("tokens"), tokens);
    Map<String, String> s = new LinkedHashMap<>();
    s.put("auth-token-file", tokenFile.toString());
    s.put("acl", "orchestrator*:fleet/:lock+write+read+watch;agent-*:fleet/:read+watch;sre::admin;"
        + "limited:lim/:lock+read;watch-only:fleet/:watch;wide:fleet/w:lock;wide:lim/w:lock;wide:scratch/:write");
    s.put("max-name-length", Integer.toString(MAX_NAME));
    s.put("max-value-bytes", Integer.toString(MAX_VALUE));
    s.put("max-request-bytes", "70000");
    s.put("max-sessions-per-identity", "4");
    s.put("max-locks-per-session", "2");
    s.put("max-waiters-per-lock", "1");
    s.put("max-watches-per-connection", "2");
    s.put("session-ttl-max-ms", "600000");
    s.put("election-timeout-min-ms", "1000");
    s.put("election-timeout-max-ms", "2000");
    s.put("session-ttl-min-ms", "4000");
    s.put("checkpoint-interval-ms", "1000");
    cluster = new ProcessCluster(3, dir.resolve("cluster"), s);
    // ProcessCluster's own status probes go in as the admin.
    cluster.channelFactory(t -> withToken(NettyChannelBuilder.forTarget(t).usePlaintext().build(), "sre"));
    cluster.start();
    leader = cluster.awaitLeader(Duration.ofSeconds(90));
    setUpAcknowledgedState();
    digestBefore = digest(leader);
  }

  @AfterAll
  static void stop() {
    extraChannels.forEach(ManagedChannel::shutdownNow);
    if (cluster != null) {
      cluster.close();
    }
  }

  // ---- channels and identities -----------------------------------------------------------------

  /** A channel to node {@code i} that authenticates as {@code identity} (null: no token at all). */
  static Channel as(int i, String identity) {
    Channel base = cluster.channel(i);
    return identity == null ? base : header(base, "Bearer " + TOKENS.get(identity));
  }

  /** The cluster's own channels: the admin's token, unless a call brings its own. */
  static ManagedChannel withToken(ManagedChannel ch, String identity) {
    return new ForwardingManagedChannel(ch, header(ch, "Bearer " + TOKENS.get(identity), false));
  }

  static Channel header(Channel ch, String value) {
    return header(ch, value, true);
  }

  static Channel header(Channel ch, String value, boolean replace) {
    Metadata.Key<String> auth = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    ClientInterceptor i = new ClientInterceptor() {
      @Override
      public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> m, CallOptions o, Channel next) {
        return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(m, o)) {
          @Override
          public void start(Listener<R> l, Metadata h) {
            if (replace || !h.containsKey(auth)) {
              h.removeAll(auth);
              h.put(auth, value);
            }
            super.start(l, h);
          }
        };
      }
    };
    return ClientInterceptors.intercept(ch, i);
  }

  /** Sends the admin's token and then mallory's: ambiguous credentials. */
  static Channel twoTokens(Channel ch) {
    Metadata.Key<String> auth = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    return ClientInterceptors.intercept(ch, new ClientInterceptor() {
      @Override
      public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> m, CallOptions o, Channel next) {
        return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(m, o)) {
          @Override
          public void start(Listener<R> l, Metadata h) {
            h.put(auth, "Bearer " + TOKENS.get("mallory"));
            h.put(auth, "Bearer " + TOKENS.get("sre"));
            super.start(l, h);
          }
        };
      }
    });
  }

  static SessionServiceGrpc.SessionServiceBlockingStub sessions(String who) {
    return SessionServiceGrpc.newBlockingStub(as(leader, who)).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  static LockServiceGrpc.LockServiceBlockingStub locks(String who) {
    return LockServiceGrpc.newBlockingStub(as(leader, who)).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  static KvServiceGrpc.KvServiceBlockingStub kv(String who) {
    return KvServiceGrpc.newBlockingStub(as(leader, who)).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  static AdminServiceGrpc.AdminServiceBlockingStub admin(String who) {
    return AdminServiceGrpc.newBlockingStub(as(leader, who)).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  static OpenSessionRequest open(String requestId, String name) {
    return OpenSessionRequest.newBuilder().setRequestId(requestId).setTtlMs(TTL)
        .setClient(ClientIdentity.newBuilder().setName(name).setHost("test-host").setPid(42)).build();
  }

  /** {@code who}'s calls to a follower that ask it to pass them on to the leader (holdfast-forward). */
  static Channel forwardedAs(String who) {
    Metadata forward = new Metadata();
    forward.put(io.holdfast.server.api.ForwardRequest.HEADER, "1");
    return ClientInterceptors.intercept(as((leader + 1) % 3, who),
        io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(forward));
  }

  static LockServiceGrpc.LockServiceBlockingStub forwardedLocks(String who) {
    return LockServiceGrpc.newBlockingStub(forwardedAs(who)).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  static KvServiceGrpc.KvServiceBlockingStub forwardedKv(String who) {
    return KvServiceGrpc.newBlockingStub(forwardedAs(who)).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  static AcquireRequest acquire(String requestId, long session, String lock, long waitMs) {
    return AcquireRequest.newBuilder().setRequestId(requestId).setSessionId(session).setLockName(lock)
        .setWaitMs(waitMs).build();
  }

  /** Sessions, locks, keys and audit entries that the suite must leave exactly as they are. */
  static void setUpAcknowledgedState() {
    s1 = sessions("orchestrator").openSession(open("open-s1", "orchestrator-main").toBuilder()
        .setExclusiveKey("fleet/orch/main").build()).getSessionId();
    s2 = sessions("agent-7").openSession(open("open-s2", "agent")).getSessionId();
    tokenA = locks("orchestrator").acquire(acquire("acq-a", s1, "fleet/a", 0)).getToken();
    assertTrue(tokenA > 0);
    assertTrue(locks("orchestrator").acquire(acquire("acq-b", s1, "fleet/b", 0)).getGranted());
    revCfg = kv("orchestrator").put(PutRequest.newBuilder().setRequestId("put-cfg").setKey("fleet/cfg")
        .setValue(ByteString.copyFromUtf8("v1")).build()).getRevision();
    kv("orchestrator").put(PutRequest.newBuilder().setRequestId("put-fenced").setKey("fleet/fenced")
        .setValue(ByteString.copyFromUtf8("fenced")).setFenceLock("fleet/a").setFenceToken(tokenA).build());
    for (int i = 0; i < 4; i++) {
      lim[i] = sessions("limited").openSession(open("open-lim-" + i, "limited-" + i)).getSessionId();
    }
    assertTrue(locks("limited").acquire(acquire("lim-x", lim[0], "lim/x", 0)).getGranted());
    assertTrue(locks("limited").acquire(acquire("lim-y", lim[0], "lim/y", 0)).getGranted());
    assertTrue(locks("limited").acquire(acquire("lim-q", lim[1], "lim/q", 0)).getGranted());
    // A queued waiter: its RPC stays open on the leader for the whole suite.
    LockServiceGrpc.newStub(as(leader, "limited")).acquire(acquire("lim-q-wait", lim[2], "lim/q", 500_000),
        new StreamObserver<>() {
          public void onNext(io.holdfast.proto.v1.AcquireResponse r) {}

          public void onError(Throwable t) {}

          public void onCompleted() {}
        });
    long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (locks("sre").describeLock(DescribeLockRequest.newBuilder().setLockName("lim/q").build()).getLock()
        .getWaitersCount() == 0) {
      assertTrue(System.nanoTime() < end, "the waiter did not queue");
      sleep(100);
    }
    // An expiry records every lock the session held, here under two prefixes.
    long wide = sessions("wide").openSession(open("open-wide", "wide")).getSessionId();
    assertTrue(locks("wide").acquire(acquire("wide-f", wide, "fleet/w", 0)).getGranted());
    assertTrue(locks("wide").acquire(acquire("wide-l", wide, "lim/w", 0)).getGranted());
    admin("sre").expireSession(ExpireSessionRequest.newBuilder().setRequestId("expire-wide").setSessionId(wide)
        .setReason("suite setup").build());
    // An admin action, so that the audit log is part of what must not change.
    assertTrue(locks("limited").acquire(acquire("lim-r", lim[3], "lim/r", 0)).getGranted());
    admin("sre").revoke(RevokeRequest.newBuilder().setRequestId("revoke-y").setLockName("lim/r")
        .setReason("suite setup").build());
  }

  // ---- the state digest ------------------------------------------------------------------------

  /** Sessions, locks, keys and audit as node {@code i} reads them linearizably (volatile fields left out). */
  static String digest(int i) {
    Channel ch = as(i, "sre");
    StringBuilder b = new StringBuilder();
    List<SessionInfo> ss = new ArrayList<>(LockServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
        .listSessions(ListSessionsRequest.getDefaultInstance()).getSessionsList());
    ss.sort((x, y) -> Long.compare(x.getSessionId(), y.getSessionId()));
    for (SessionInfo s : ss) {
      b.append("S ").append(s.getSessionId()).append(' ').append(s.getClient().getAuthenticatedIdentity()).append(' ')
          .append(s.getClient().getName()).append(' ').append(s.getTtlMs()).append(' ').append(s.getHeldLocksList())
          .append(' ').append(s.getWaitingOnList()).append(' ').append(s.getExclusiveKey()).append('\n');
    }
    for (LockInfo l : LockServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
        .listLocks(ListLocksRequest.getDefaultInstance()).getLocksList()) {
      b.append("L ").append(l.getName()).append(' ').append(l.getState()).append(' ').append(l.getHolderSessionId())
          .append(' ').append(l.getToken()).append(' ').append(l.getFormerHolderSessionId()).append(' ');
      l.getWaitersList().forEach(w -> b.append(w.getSessionId()).append(','));
      b.append('\n');
    }
    for (KeyValue kv : KvServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
        .list(ListRequest.newBuilder().setLimit(10_000).build()).getKvsList()) {
      b.append("K ").append(kv.getKey()).append(' ').append(kv.getRevision()).append(' ')
          .append(sha(kv.getValue().toByteArray())).append(' ').append(kv.getFenceLock()).append(' ')
          .append(kv.getFenceToken()).append('\n');
    }
    for (AuditEntry a : AdminServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
        .listAudit(ListAuditRequest.newBuilder().setLimit(1_000).build()).getEntriesList()) {
      b.append("A ").append(a.getIndex()).append(' ').append(a.getKind()).append(' ').append(a.getLockName())
          .append(' ').append(a.getSessionId()).append(' ').append(a.getRequestedBy()).append('\n');
    }
    return b.toString();
  }

  static String sha(byte[] v) {
    try {
      return java.util.HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(v)).substring(0, 16);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  // ---- the cases -------------------------------------------------------------------------------

  /** One bad call: what it is, the status it must get, and the call (which may throw). */
  record Case(String category, String what, Status.Code expected, Runnable call) {}

  static List<Case> cases() {
    List<Case> out = new ArrayList<>();
    Status.Code invalid = Status.Code.INVALID_ARGUMENT;
    Status.Code denied = Status.Code.PERMISSION_DENIED;
    Status.Code notFound = Status.Code.NOT_FOUND;
    Status.Code exhausted = Status.Code.RESOURCE_EXHAUSTED;
    Status.Code ok = Status.Code.OK;

    // Malformed names, everywhere a lock name or key goes.
    List<String> badNames = List.of("", "/fleet/a", "fleet/a/", "fleet//a", "fleet/../a", "fleet/./a", "./fleet",
        "-fleet", ".fleet", "fleet/a b", "fleet/tab\t", "fleet/nul\u0000", "fleet/ünï", "fleet/\uD83D\uDE00",
        "fleet/" + "x".repeat(MAX_NAME), "fleet/" + "y".repeat(300), "fleet/a\nb", "fleet/%2e%2e");
    int n = 0;
    for (String bad : badNames) {
      String tag = "name#" + (n++) + " '" + printable(bad) + "'";
      out.add(new Case("malformed", "Acquire " + tag, invalid,
          () -> locks("orchestrator").acquire(acquire("m-acq-" + n(), s1, bad, 0))));
      out.add(new Case("malformed", "Acquire waiting " + tag, invalid,
          () -> locks("orchestrator").acquire(acquire("m-acqw-" + n(), s1, bad, 1000))));
      out.add(new Case("malformed", "Release " + tag, invalid, () -> locks("orchestrator").release(
          ReleaseRequest.newBuilder().setRequestId("m-rel-" + n()).setSessionId(s1).setLockName(bad).setToken(1)
              .build())));
      out.add(new Case("malformed", "CancelWait " + tag, invalid, () -> locks("orchestrator").cancelWait(
          CancelWaitRequest.newBuilder().setRequestId("m-cw-" + n()).setSessionId(s1).setLockName(bad).build())));
      out.add(new Case("malformed", "DescribeLock " + tag, invalid,
          () -> locks("orchestrator").describeLock(DescribeLockRequest.newBuilder().setLockName(bad).build())));
      out.add(new Case("malformed", "Put " + tag, invalid, () -> kv("orchestrator").put(PutRequest.newBuilder()
          .setRequestId("m-put-" + n()).setKey(bad).setValue(ByteString.copyFromUtf8("x")).build())));
      out.add(new Case("malformed", "Put fence_lock " + tag, invalid, () -> kv("orchestrator").put(
          PutRequest.newBuilder().setRequestId("m-putf-" + n()).setKey("fleet/cfg").setValue(ByteString.copyFromUtf8(
              "x")).setFenceLock(bad.isEmpty() ? "fleet//" : bad).setFenceToken(tokenA).build())));
      out.add(new Case("malformed", "Delete " + tag, invalid, () -> kv("orchestrator").delete(
          DeleteRequest.newBuilder().setRequestId("m-del-" + n()).setKey(bad).build())));
      out.add(new Case("malformed", "Get " + tag, invalid,
          () -> kv("orchestrator").get(GetRequest.newBuilder().setKey(bad).build())));
      out.add(new Case("malformed", "ValidateFence " + tag, invalid, () -> kv("orchestrator").validateFence(
          ValidateFenceRequest.newBuilder().setLockName(bad).setToken(5).build())));
      out.add(new Case("malformed", "Revoke " + tag, invalid, () -> admin("sre").revoke(RevokeRequest.newBuilder()
          .setRequestId("m-rv-" + n()).setLockName(bad).setReason("suite").build())));
      if (!bad.isEmpty()) {
        out.add(new Case("malformed", "ListAudit " + tag, invalid,
            () -> admin("sre").listAudit(ListAuditRequest.newBuilder().setLockName(bad).build())));
        out.add(new Case("malformed", "OpenSession exclusive_key " + tag, invalid, () -> sessions("orchestrator")
            .openSession(open("m-open-" + n(), "x").toBuilder().setExclusiveKey(bad).build())));
      }
    }
    String long257 = "p".repeat(257);
    out.add(new Case("malformed", "ListLocks prefix of 257", invalid,
        () -> locks("sre").listLocks(ListLocksRequest.newBuilder().setPrefix(long257).build())));
    out.add(new Case("malformed", "List prefix of 257", invalid,
        () -> kv("sre").list(ListRequest.newBuilder().setPrefix(long257).build())));
    out.add(new Case("malformed", "List start_after of 257", invalid,
        () -> kv("sre").list(ListRequest.newBuilder().setStartAfter(long257).build())));
    out.add(new Case("malformed", "Watch lock prefix of 257", invalid,
        () -> watch("sre", WatchRequest.newBuilder().addLockPrefixes(long257).build())));
    out.add(new Case("malformed", "Watch key prefix of 257", invalid,
        () -> watch("sre", WatchRequest.newBuilder().addKeyPrefixes(long257).build())));

    out.add(new Case("malformed", "CancelWait acquire_request_id of 129", invalid, () -> locks("orchestrator")
        .cancelWait(CancelWaitRequest.newBuilder().setRequestId("m-cw-" + n()).setSessionId(s1)
            .setLockName("fleet/a").setAcquireRequestId("r".repeat(129)).build())));

    // Request ids: empty and too long, on every mutating call.
    for (String rid : List.of("", "r".repeat(129))) {
      String tag = "request_id of " + rid.length();
      out.add(new Case("malformed", "OpenSession " + tag, invalid,
          () -> sessions("orchestrator").openSession(open(rid, "x"))));
      out.add(new Case("malformed", "CloseSession " + tag, invalid, () -> sessions("orchestrator").closeSession(
          CloseSessionRequest.newBuilder().setRequestId(rid).setSessionId(s1).build())));
      out.add(new Case("malformed", "Acquire " + tag, invalid,
          () -> locks("orchestrator").acquire(acquire(rid, s1, "fleet/c", 0))));
      out.add(new Case("malformed", "Release " + tag, invalid, () -> locks("orchestrator").release(
          ReleaseRequest.newBuilder().setRequestId(rid).setSessionId(s1).setLockName("fleet/a").setToken(tokenA)
              .build())));
      out.add(new Case("malformed", "CancelWait " + tag, invalid, () -> locks("orchestrator").cancelWait(
          CancelWaitRequest.newBuilder().setRequestId(rid).setSessionId(s1).setLockName("fleet/a").build())));
      out.add(new Case("malformed", "Put " + tag, invalid, () -> kv("orchestrator").put(PutRequest.newBuilder()
          .setRequestId(rid).setKey("fleet/cfg").setValue(ByteString.copyFromUtf8("v2")).build())));
      out.add(new Case("malformed", "Delete " + tag, invalid, () -> kv("orchestrator").delete(
          DeleteRequest.newBuilder().setRequestId(rid).setKey("fleet/cfg").build())));
      out.add(new Case("malformed", "Revoke " + tag, invalid, () -> admin("sre").revoke(RevokeRequest.newBuilder()
          .setRequestId(rid).setLockName("fleet/a").setReason("r").build())));
      out.add(new Case("malformed", "ExpireSession " + tag, invalid, () -> admin("sre").expireSession(
          ExpireSessionRequest.newBuilder().setRequestId(rid).setSessionId(s1).setReason("r").build())));
    }

    // Out of range numbers.
    for (long ttl : new long[] {0, -1, 3_999, 600_001, Long.MAX_VALUE, Long.MIN_VALUE}) {
      out.add(new Case("out-of-range", "OpenSession ttl_ms " + ttl, invalid, () -> sessions("orchestrator")
          .openSession(open("r-ttl-" + n(), "x").toBuilder().setTtlMs(ttl).build())));
    }
    ClientIdentity.Builder base = ClientIdentity.newBuilder().setName("x").setHost("h");
    Map<String, ClientIdentity> badClients = new LinkedHashMap<>();
    badClients.put("name of 129", base.clone().setName("n".repeat(129)).build());
    badClients.put("host of 257", base.clone().setHost("h".repeat(257)).build());
    badClients.put("pid -1", base.clone().setPid(-1).build());
    ClientIdentity.Builder many = base.clone();
    for (int i = 0; i < 33; i++) {
      many.putLabels("k" + i, "v");
    }
    badClients.put("33 labels", many.build());
    badClients.put("empty label key", base.clone().putLabels("", "v").build());
    badClients.put("label value of 257", base.clone().putLabels("k", "v".repeat(257)).build());
    badClients.forEach((what, c) -> out.add(new Case("out-of-range", "OpenSession client " + what, invalid,
        () -> sessions("orchestrator").openSession(open("r-cl-" + n(), "x").toBuilder().setClient(c).build()))));
    for (long w : new long[] {-2, 3_600_001, Long.MIN_VALUE}) {
      out.add(new Case("out-of-range", "Acquire wait_ms " + w, invalid,
          () -> locks("orchestrator").acquire(acquire("r-w-" + n(), s1, "fleet/c", w))));
    }
    for (long d : new long[] {-1, 60_001, Long.MAX_VALUE}) {
      out.add(new Case("out-of-range", "Acquire lock_delay_ms " + d, invalid, () -> locks("orchestrator")
          .acquire(acquire("r-d-" + n(), s1, "fleet/c", 0).toBuilder().setLockDelayMs(d).build())));
    }
    for (long h : new long[] {-1, 30L * 24 * 3600 * 1000 + 1}) {
      out.add(new Case("out-of-range", "Acquire max_hold_ms " + h, invalid, () -> locks("orchestrator")
          .acquire(acquire("r-h-" + n(), s1, "fleet/c", 0).toBuilder().setMaxHoldMs(h).build())));
    }
    for (long t : new long[] {0, -1, Long.MIN_VALUE}) {
      out.add(new Case("out-of-range", "Release token " + t, invalid, () -> locks("orchestrator").release(
          ReleaseRequest.newBuilder().setRequestId("r-t-" + n()).setSessionId(s1).setLockName("fleet/a").setToken(t)
              .build())));
      out.add(new Case("out-of-range", "ValidateFence token " + t, invalid, () -> kv("orchestrator").validateFence(
          ValidateFenceRequest.newBuilder().setLockName("fleet/a").setToken(t).build())));
    }
    for (long sid : new long[] {0, -1, Long.MIN_VALUE}) {
      out.add(new Case("out-of-range", "Acquire session_id " + sid, invalid,
          () -> locks("orchestrator").acquire(acquire("r-s-" + n(), sid, "fleet/c", 0))));
      out.add(new Case("out-of-range", "Release session_id " + sid, invalid, () -> locks("orchestrator").release(
          ReleaseRequest.newBuilder().setRequestId("r-s-" + n()).setSessionId(sid).setLockName("fleet/a")
              .setToken(tokenA).build())));
      out.add(new Case("out-of-range", "CancelWait session_id " + sid, invalid, () -> locks("orchestrator")
          .cancelWait(CancelWaitRequest.newBuilder().setRequestId("r-s-" + n()).setSessionId(sid)
              .setLockName("fleet/a").build())));
      out.add(new Case("out-of-range", "CloseSession session_id " + sid, invalid, () -> sessions("orchestrator")
          .closeSession(CloseSessionRequest.newBuilder().setRequestId("r-s-" + n()).setSessionId(sid).build())));
      out.add(new Case("out-of-range", "ExpireSession session_id " + sid, invalid, () -> admin("sre").expireSession(
          ExpireSessionRequest.newBuilder().setRequestId("r-s-" + n()).setSessionId(sid).setReason("r").build())));
    }
    out.add(new Case("out-of-range", "Put expected_revision -1", invalid, () -> kv("orchestrator").put(
        PutRequest.newBuilder().setRequestId("r-er-" + n()).setKey("fleet/cfg").setValue(ByteString.copyFromUtf8("v"))
            .setExpectedRevision(-1).build())));
    out.add(new Case("out-of-range", "Delete expected_revision -7", invalid, () -> kv("orchestrator").delete(
        DeleteRequest.newBuilder().setRequestId("r-er-" + n()).setKey("fleet/cfg").setExpectedRevision(-7).build())));
    out.add(new Case("out-of-range", "Put fence_token without fence_lock", invalid, () -> kv("orchestrator").put(
        PutRequest.newBuilder().setRequestId("r-ft-" + n()).setKey("fleet/cfg").setValue(ByteString.copyFromUtf8("v"))
            .setFenceToken(tokenA).build())));
    out.add(new Case("out-of-range", "Put fence_lock with token 0", invalid, () -> kv("orchestrator").put(
        PutRequest.newBuilder().setRequestId("r-ft-" + n()).setKey("fleet/cfg").setValue(ByteString.copyFromUtf8("v"))
            .setFenceLock("fleet/a").build())));
    out.add(new Case("out-of-range", "Delete fence_lock with token -3", invalid, () -> kv("orchestrator").delete(
        DeleteRequest.newBuilder().setRequestId("r-ft-" + n()).setKey("fleet/cfg").setFenceLock("fleet/a")
            .setFenceToken(-3).build())));
    for (int limit : new int[] {-1, 10_001, Integer.MIN_VALUE}) {
      out.add(new Case("out-of-range", "List limit " + limit, invalid,
          () -> kv("sre").list(ListRequest.newBuilder().setLimit(limit).build())));
    }
    for (int limit : new int[] {-1, 1_001}) {
      out.add(new Case("out-of-range", "ListAudit limit " + limit, invalid,
          () -> admin("sre").listAudit(ListAuditRequest.newBuilder().setLimit(limit).build())));
    }
    out.add(new Case("out-of-range", "Watch without prefixes", invalid,
        () -> watch("sre", WatchRequest.getDefaultInstance())));
    WatchRequest.Builder wide = WatchRequest.newBuilder();
    for (int i = 0; i < 65; i++) {
      wide.addLockPrefixes("fleet/" + i);
    }
    out.add(new Case("out-of-range", "Watch with 65 prefixes", invalid, () -> watch("sre", wide.build())));
    out.add(new Case("out-of-range", "Watch after_index -1", invalid,
        () -> watch("sre", WatchRequest.newBuilder().addLockPrefixes("fleet/").setAfterIndex(-1).build())));
    out.add(new Case("out-of-range", "Revoke blank reason", invalid, () -> admin("sre").revoke(
        RevokeRequest.newBuilder().setRequestId("r-rr-" + n()).setLockName("fleet/a").setReason("  ").build())));
    out.add(new Case("out-of-range", "Revoke reason of 1025", invalid, () -> admin("sre").revoke(
        RevokeRequest.newBuilder().setRequestId("r-rr-" + n()).setLockName("fleet/a").setReason("r".repeat(1025))
            .build())));
    out.add(new Case("out-of-range", "Revoke dry run reason of 1025", invalid, () -> admin("sre").revoke(
        RevokeRequest.newBuilder().setRequestId("r-rr-" + n()).setLockName("fleet/a").setReason("r".repeat(1025))
            .setDryRun(true).build())));
    out.add(new Case("out-of-range", "Revoke requested_by of 257", invalid, () -> admin("sre").revoke(
        RevokeRequest.newBuilder().setRequestId("r-rr-" + n()).setLockName("fleet/a").setReason("r")
            .setRequestedBy("b".repeat(257)).build())));
    out.add(new Case("out-of-range", "Revoke expected_token -1", invalid, () -> admin("sre").revoke(
        RevokeRequest.newBuilder().setRequestId("r-rr-" + n()).setLockName("fleet/a").setReason("r")
            .setExpectedToken(-1).build())));
    out.add(new Case("out-of-range", "ExpireSession reason of 1025", invalid, () -> admin("sre").expireSession(
        ExpireSessionRequest.newBuilder().setRequestId("r-er-" + n()).setSessionId(s1).setReason("r".repeat(1025))
            .build())));
    out.add(new Case("out-of-range", "ExpireSession requested_by of 257", invalid, () -> admin("sre").expireSession(
        ExpireSessionRequest.newBuilder().setRequestId("r-er-" + n()).setSessionId(s1).setReason("r")
            .setRequestedBy("b".repeat(257)).build())));
    out.add(new Case("out-of-range", "Revoke successor -1", invalid, () -> admin("sre").revoke(
        RevokeRequest.newBuilder().setRequestId("r-rr-" + n()).setLockName("fleet/a").setReason("r")
            .setSuccessorSessionId(-1).build())));
    out.add(new Case("out-of-range", "Revoke successor already holding", invalid, () -> admin("sre").revoke(
        RevokeRequest.newBuilder().setRequestId("r-rr-" + n()).setLockName("fleet/a").setReason("r")
            .setSuccessorSessionId(s1).build())));
    out.add(new Case("out-of-range", "ExpireSession blank reason", invalid, () -> admin("sre").expireSession(
        ExpireSessionRequest.newBuilder().setRequestId("r-er-" + n()).setSessionId(s1).build())));

    // Oversized: values over max-value-bytes, messages over max-request-bytes.
    out.add(new Case("oversized", "Put value of max+1 bytes", invalid, () -> kv("orchestrator").put(
        PutRequest.newBuilder().setRequestId("o-v-" + n()).setKey("fleet/cfg").setValue(ByteString.copyFrom(
            new byte[MAX_VALUE + 1])).build())));
    out.add(new Case("oversized", "Put of 100 kB (over max-request-bytes)", exhausted, () -> kv("orchestrator").put(
        PutRequest.newBuilder().setRequestId("o-v-" + n()).setKey("fleet/cfg").setValue(ByteString.copyFrom(
            new byte[100_000])).build())));
    out.add(new Case("oversized", "DescribeLock name of 200 kB", exhausted, () -> locks("orchestrator")
        .describeLock(DescribeLockRequest.newBuilder().setLockName("z".repeat(200_000)).build())));
    out.add(new Case("oversized", "OpenSession label of 80 kB", exhausted, () -> sessions("orchestrator")
        .openSession(open("o-l-" + n(), "x").toBuilder().setClient(base.clone().putLabels("k", "v".repeat(80_000)))
            .build())));
    out.add(new Case("oversized", "Watch with 300 prefixes of 256", exhausted, () -> {
      WatchRequest.Builder w = WatchRequest.newBuilder();
      for (int i = 0; i < 300; i++) {
        w.addKeyPrefixes("k".repeat(256));
      }
      watch("sre", w.build());
    }));

    // Unknown ids.
    long ghost = 987_654_321L;
    out.add(new Case("unknown-id", "Acquire unknown session", notFound,
        () -> locks("orchestrator").acquire(acquire("u-" + n(), ghost, "fleet/c", 0))));
    out.add(new Case("unknown-id", "Acquire waiting, unknown session", notFound,
        () -> locks("orchestrator").acquire(acquire("u-" + n(), ghost, "fleet/c", 1_000))));
    out.add(new Case("unknown-id", "Release unknown session", notFound, () -> locks("orchestrator").release(
        ReleaseRequest.newBuilder().setRequestId("u-" + n()).setSessionId(ghost).setLockName("fleet/a")
            .setToken(tokenA).build())));
    out.add(new Case("unknown-id", "CancelWait unknown session", notFound, () -> locks("orchestrator").cancelWait(
        CancelWaitRequest.newBuilder().setRequestId("u-" + n()).setSessionId(ghost).setLockName("fleet/a").build())));
    out.add(new Case("unknown-id", "CancelWait with no wait queued", notFound, () -> locks("orchestrator")
        .cancelWait(CancelWaitRequest.newBuilder().setRequestId("u-" + n()).setSessionId(s1)
            .setLockName("fleet/zzz").setAcquireRequestId("never-sent").build())));
    out.add(new Case("unknown-id", "CloseSession unknown session", notFound, () -> sessions("orchestrator")
        .closeSession(CloseSessionRequest.newBuilder().setRequestId("u-" + n()).setSessionId(ghost).build())));
    // The answer a client sees for an unknown session through a follower, by an identity with no
    // rules at all (the follower's check itself is AccessOwnershipTest's).
    out.add(new Case("unknown-id", "CloseSession unknown session, through a follower, by an identity with no rules",
        notFound, () -> SessionServiceGrpc.newBlockingStub(forwardedAs("agent-7")).withDeadlineAfter(10, TimeUnit.SECONDS)
            .closeSession(CloseSessionRequest.newBuilder().setRequestId("u-" + n()).setSessionId(ghost).build())));
    out.add(new Case("unknown-id", "ExpireSession unknown session", notFound, () -> admin("sre").expireSession(
        ExpireSessionRequest.newBuilder().setRequestId("u-" + n()).setSessionId(ghost).setReason("r").build())));
    out.add(new Case("unknown-id", "Revoke a free lock", notFound, () -> admin("sre").revoke(RevokeRequest
        .newBuilder().setRequestId("u-" + n()).setLockName("fleet/never-held").setReason("r").build())));
    out.add(new Case("unknown-id", "Revoke to an unknown successor", notFound, () -> admin("sre").revoke(
        RevokeRequest.newBuilder().setRequestId("u-" + n()).setLockName("fleet/a").setReason("r")
            .setSuccessorSessionId(ghost).build())));
    out.add(new Case("unknown-id", "Revoke dry run on a free lock", notFound, () -> admin("sre").revoke(
        RevokeRequest.newBuilder().setRequestId("u-" + n()).setLockName("fleet/never-held").setReason("r")
            .setDryRun(true).build())));
    out.add(new Case("unknown-id", "Revoke with a stale expected token", Status.Code.FAILED_PRECONDITION,
        () -> admin("sre").revoke(RevokeRequest.newBuilder().setRequestId("u-" + n()).setLockName("fleet/a")
            .setReason("r").setExpectedToken(tokenA - 1).build())));
    out.add(new Case("unknown-id", "Revoke dry run with a stale expected token", Status.Code.FAILED_PRECONDITION,
        () -> admin("sre").revoke(RevokeRequest.newBuilder().setRequestId("u-" + n()).setLockName("fleet/a")
            .setReason("r").setExpectedToken(tokenA - 1).setDryRun(true).build())));
    out.add(new Case("unknown-id", "Release a lock the session does not hold", Status.Code.FAILED_PRECONDITION,
        () -> locks("orchestrator").release(ReleaseRequest.newBuilder().setRequestId("u-" + n()).setSessionId(s1)
            .setLockName("fleet/never-held").setToken(tokenA).build())));
    out.add(new Case("unknown-id", "Release with a stale token, through a follower", Status.Code.FAILED_PRECONDITION,
        () -> forwardedLocks("orchestrator").release(ReleaseRequest.newBuilder().setRequestId("u-" + n())
            .setSessionId(s1).setLockName("fleet/a").setToken(tokenA + 1_000).build())));
    out.add(new Case("unknown-id", "Acquire for an unknown session, through a follower", notFound,
        () -> forwardedLocks("orchestrator").acquire(acquire("u-" + n(), ghost, "fleet/c", 0))));
    out.add(new Case("unknown-id", "Release with a stale token", Status.Code.FAILED_PRECONDITION,
        () -> locks("orchestrator").release(ReleaseRequest.newBuilder().setRequestId("u-" + n()).setSessionId(s1)
            .setLockName("fleet/a").setToken(tokenA + 1_000).build())));
    out.add(new Case("unknown-id", "Fenced put with a stale token", Status.Code.FAILED_PRECONDITION,
        () -> kv("orchestrator").put(PutRequest.newBuilder().setRequestId("u-" + n()).setKey("fleet/cfg")
            .setValue(ByteString.copyFromUtf8("v")).setFenceLock("fleet/a").setFenceToken(tokenA - 1).build())));
    out.add(new Case("unknown-id", "Put with a wrong expected revision", Status.Code.FAILED_PRECONDITION,
        () -> kv("orchestrator").put(PutRequest.newBuilder().setRequestId("u-" + n()).setKey("fleet/cfg")
            .setValue(ByteString.copyFromUtf8("v")).setExpectedRevision(revCfg + 5).build())));
    out.add(new Case("unknown-id", "KeepAlive unknown session (answered not alive)", ok, () -> {
      KeepAliveResponse r = keepAlive("orchestrator", ghost);
      assertTrue(!r.getAlive(), "an unknown session is not renewed");
    }));
    out.add(new Case("unknown-id", "KeepAlive unknown session, relayed by a follower (answered not alive)", ok, () -> {
      KeepAliveResponse r = keepAlive((leader + 2) % 3, "orchestrator", ghost, true);
      assertTrue(!r.getAlive(), "an unknown session is not renewed");
      assertEquals(ghost, r.getSessionId());
    }));
    out.add(new Case("unknown-id", "KeepAlive of one's own session, relayed by a follower (renewed)", ok, () -> {
      KeepAliveResponse r = keepAlive((leader + 1) % 3, "orchestrator", s1, true);
      assertTrue(r.getAlive(), "the leader renews a relayed keepalive");
      assertTrue(r.getRelayed(), "marked as relayed");
      assertEquals(cluster.endpoint(leader), r.getLeader(), "naming the leader that renewed it");
      assertTrue(r.getHeldLocksList().stream().anyMatch(h -> h.getName().equals("fleet/a")),
          "the leader's answer lists the session's locks: " + r);
    }));

    // Other identities: a session id is not a credential; the ACL holds per verb and prefix.
    out.add(new Case("other-identity", "Acquire with another identity's session", denied,
        () -> locks("orchestrator-b").acquire(acquire("i-" + n(), s1, "fleet/c", 0))));
    out.add(new Case("other-identity", "Release another identity's lock", denied, () -> locks("orchestrator-b")
        .release(ReleaseRequest.newBuilder().setRequestId("i-" + n()).setSessionId(s1).setLockName("fleet/a")
            .setToken(tokenA).build())));
    out.add(new Case("other-identity", "CancelWait on another identity's session", denied, () -> locks(
        "orchestrator-b").cancelWait(CancelWaitRequest.newBuilder().setRequestId("i-" + n()).setSessionId(s1)
            .setLockName("fleet/a").build())));
    out.add(new Case("other-identity", "CloseSession of another identity", denied, () -> sessions("orchestrator-b")
        .closeSession(CloseSessionRequest.newBuilder().setRequestId("i-" + n()).setSessionId(s1).build())));
    out.add(new Case("other-identity", "KeepAlive of another identity's session", denied,
        () -> keepAlive("orchestrator-b", s1)));
    // A follower passing a write on checks the caller as the leader would.
    out.add(new Case("other-identity", "Acquire with another identity's session, through a follower", denied,
        () -> forwardedLocks("orchestrator-b").acquire(acquire("i-" + n(), s1, "fleet/c", 0))));
    out.add(new Case("other-identity", "agent-7: Put fleet/cfg through a follower", denied, () -> forwardedKv("agent-7")
        .put(PutRequest.newBuilder().setRequestId("i-" + n()).setKey("fleet/cfg")
            .setValue(ByteString.copyFromUtf8("evil")).build())));
    // The follower relays; the leader checks the identity the follower authenticated.
    out.add(new Case("other-identity", "KeepAlive of another identity's session, relayed by a follower", denied,
        () -> keepAlive((leader + 1) % 3, "orchestrator-b", s1, true)));
    out.add(new Case("other-identity", "OpenSession taking over another identity's exclusive key", denied,
        () -> sessions("orchestrator-b").openSession(open("i-" + n(), "thief").toBuilder().setExclusiveKey("fleet/orch/main")
            .build())));
    // A key is held as a lock is: without lock on it, an identity could take another's key first.
    out.add(new Case("other-identity", "OpenSession with an exclusive key outside its lock rules (agent-7)", denied,
        () -> sessions("agent-7").openSession(open("i-" + n(), "agent").toBuilder()
            .setExclusiveKey("fleet/agents/agent-7").build())));
    out.add(new Case("other-identity", "OpenSession with an exclusive key under no rule (orchestrator)", denied,
        () -> sessions("orchestrator").openSession(open("i-" + n(), "squat").toBuilder()
            .setExclusiveKey("elsewhere/node-7").build())));
    out.add(new Case("other-identity", "Revoke without admin (orchestrator)", denied, () -> admin("orchestrator")
        .revoke(RevokeRequest.newBuilder().setRequestId("i-" + n()).setLockName("fleet/a").setReason("r").build())));
    out.add(new Case("other-identity", "Revoke dry run without admin", denied, () -> admin("agent-7").revoke(
        RevokeRequest.newBuilder().setRequestId("i-" + n()).setLockName("fleet/a").setReason("r").setDryRun(true)
            .build())));
    out.add(new Case("other-identity", "ExpireSession without admin", denied, () -> admin("orchestrator")
        .expireSession(ExpireSessionRequest.newBuilder().setRequestId("i-" + n()).setSessionId(s2).setReason("r")
            .build())));
    // A fence is no window onto a lock the writer may not see: its refusal would name the token.
    out.add(new Case("other-identity", "Put fenced by a lock the writer may not read or lock", denied,
        () -> kv("wide").put(PutRequest.newBuilder().setRequestId("i-" + n()).setKey("scratch/x")
            .setValue(ByteString.copyFromUtf8("v")).setFenceLock("lim/q").setFenceToken(1).build())));
    out.add(new Case("other-identity", "Delete fenced by a lock the writer may not read or lock", denied,
        () -> kv("wide").delete(DeleteRequest.newBuilder().setRequestId("i-" + n()).setKey("scratch/x")
            .setFenceLock("fleet/a").setFenceToken(1).build())));
    for (String who : List.of("agent-7", "mallory", "limited")) {
      out.add(new Case("other-identity", who + ": Acquire fleet/c with its own session", denied,
          () -> locks(who).acquire(acquire("i-" + n(), who.equals("agent-7") ? s2 : lim[3], "fleet/c", 0))));
      out.add(new Case("other-identity", who + ": Put fleet/cfg", denied, () -> kv(who).put(PutRequest.newBuilder()
          .setRequestId("i-" + n()).setKey("fleet/cfg").setValue(ByteString.copyFromUtf8("evil")).build())));
      out.add(new Case("other-identity", who + ": Delete fleet/cfg", denied, () -> kv(who).delete(
          DeleteRequest.newBuilder().setRequestId("i-" + n()).setKey("fleet/cfg").build())));
      out.add(new Case("other-identity", who + ": Revoke fleet/a", denied, () -> admin(who).revoke(
          RevokeRequest.newBuilder().setRequestId("i-" + n()).setLockName("fleet/a").setReason("r").build())));
      out.add(new Case("other-identity", who + ": ExpireSession", denied, () -> admin(who).expireSession(
          ExpireSessionRequest.newBuilder().setRequestId("i-" + n()).setSessionId(s1).setReason("r").build())));
      out.add(new Case("other-identity", who + ": Watch every lock", denied,
          () -> watch(who, WatchRequest.newBuilder().addLockPrefixes("").build())));
      out.add(new Case("other-identity", who + ": List every key", denied,
          () -> kv(who).list(ListRequest.getDefaultInstance())));
      out.add(new Case("other-identity", who + ": ListAudit of everything", denied,
          () -> admin(who).listAudit(ListAuditRequest.getDefaultInstance())));
      // The whole cluster's business: membership, leadership and backups need admin over every name.
      out.add(new Case("other-identity", who + ": AddMember", denied, () -> admin(who).addMember(
          io.holdfast.proto.v1.AddMemberRequest.newBuilder().setId("n9").setPeerAddress("127.0.0.1:1")
              .setClientAddress("127.0.0.1:2").build())));
      out.add(new Case("other-identity", who + ": RemoveMember", denied, () -> admin(who).removeMember(
          io.holdfast.proto.v1.RemoveMemberRequest.newBuilder().setId(ProcessCluster.nodeId((leader + 1) % cluster.size())).build())));
      out.add(new Case("other-identity", who + ": TransferLeader", denied, () -> admin(who).transferLeader(
          io.holdfast.proto.v1.TransferLeaderRequest.getDefaultInstance())));
      out.add(new Case("other-identity", who + ": SaveSnapshot", denied, () -> admin(who).saveSnapshot(
          io.holdfast.proto.v1.SaveSnapshotRequest.getDefaultInstance()).forEachRemaining(chunk -> { })));
    }
    for (String who : List.of("mallory", "limited")) {
      out.add(new Case("other-identity", who + ": Get fleet/cfg", denied,
          () -> kv(who).get(GetRequest.newBuilder().setKey("fleet/cfg").build())));
      out.add(new Case("other-identity", who + ": DescribeLock fleet/a", denied,
          () -> locks(who).describeLock(DescribeLockRequest.newBuilder().setLockName("fleet/a").build())));
      out.add(new Case("other-identity", who + ": ValidateFence fleet/a", denied, () -> kv(who).validateFence(
          ValidateFenceRequest.newBuilder().setLockName("fleet/a").setToken(tokenA).build())));
      out.add(new Case("other-identity", who + ": Watch fleet/", denied,
          () -> watch(who, WatchRequest.newBuilder().addKeyPrefixes("fleet/").build())));
    }
    // A watch shows values and holders, which is what read guards: watch alone is not enough.
    out.add(new Case("other-identity", "watch-only: Watch fleet/ keys without read", denied,
        () -> watch("watch-only", WatchRequest.newBuilder().addKeyPrefixes("fleet/").build())));
    out.add(new Case("other-identity", "watch-only: Watch fleet/ locks without read", denied,
        () -> watch("watch-only", WatchRequest.newBuilder().addLockPrefixes("fleet/").build())));
    out.add(new Case("other-identity", "orchestrator: Acquire outside its prefix", denied,
        () -> locks("orchestrator").acquire(acquire("i-" + n(), s1, "lim/x", 0))));
    out.add(new Case("other-identity", "no token at all", Status.Code.UNAUTHENTICATED,
        () -> LockServiceGrpc.newBlockingStub(rawChannel(leader))
            .withDeadlineAfter(10, TimeUnit.SECONDS).describeLock(DescribeLockRequest.newBuilder()
                .setLockName("fleet/a").build())));
    out.add(new Case("other-identity", "unknown token", Status.Code.UNAUTHENTICATED,
        () -> LockServiceGrpc.newBlockingStub(header(rawChannel(leader), "Bearer not-a-token"))
            .withDeadlineAfter(10, TimeUnit.SECONDS).describeLock(DescribeLockRequest.newBuilder()
                .setLockName("fleet/a").build())));
    out.add(new Case("other-identity", "not a bearer header", Status.Code.UNAUTHENTICATED,
        () -> KvServiceGrpc.newBlockingStub(header(rawChannel(leader), "Basic " + TOKENS.get("sre")))
            .withDeadlineAfter(10, TimeUnit.SECONDS).put(PutRequest.newBuilder().setRequestId("i-" + n())
                .setKey("fleet/cfg").setValue(ByteString.copyFromUtf8("v")).build())));
    out.add(new Case("other-identity", "two authorization headers", Status.Code.UNAUTHENTICATED,
        () -> LockServiceGrpc.newBlockingStub(twoTokens(rawChannel(leader))).withDeadlineAfter(10, TimeUnit.SECONDS)
            .describeLock(DescribeLockRequest.newBuilder().setLockName("fleet/a").build())));
    out.add(new Case("other-identity", "empty bearer", Status.Code.UNAUTHENTICATED,
        () -> SessionServiceGrpc.newBlockingStub(header(rawChannel(leader), "Bearer "))
            .withDeadlineAfter(10, TimeUnit.SECONDS).openSession(open("i-" + n(), "x"))));

    // Replays: the same request again is answered as before; a reused id with other content is refused.
    out.add(new Case("replayed", "OpenSession replayed", ok, () -> assertEquals(s1, sessions("orchestrator")
        .openSession(open("open-s1", "orchestrator-main").toBuilder().setExclusiveKey("fleet/orch/main").build())
        .getSessionId())));
    out.add(new Case("replayed", "OpenSession request id replayed by another identity", invalid,
        () -> sessions("orchestrator-b").openSession(open("open-s1", "orchestrator-main").toBuilder()
            .setExclusiveKey("fleet/orch/main").build())));
    out.add(new Case("replayed", "OpenSession request id reused with another TTL", invalid,
        () -> sessions("orchestrator").openSession(open("open-s1", "orchestrator-main").toBuilder()
            .setExclusiveKey("fleet/orch/main").setTtlMs(TTL - 1).build())));
    out.add(new Case("replayed", "Acquire replayed", ok, () -> assertEquals(tokenA,
        locks("orchestrator").acquire(acquire("acq-a", s1, "fleet/a", 0)).getToken())));
    out.add(new Case("replayed", "Acquire request id reused for another lock", invalid,
        () -> locks("orchestrator").acquire(acquire("acq-a", s1, "fleet/other", 0))));
    out.add(new Case("replayed", "Put replayed", ok, () -> assertEquals(revCfg, kv("orchestrator").put(
        PutRequest.newBuilder().setRequestId("put-cfg").setKey("fleet/cfg").setValue(ByteString.copyFromUtf8("v1"))
            .build()).getRevision())));
    // The same request through a follower that passes it on acts once too.
    out.add(new Case("replayed", "Put replayed through a follower", ok, () -> assertEquals(revCfg,
        forwardedKv("orchestrator").put(PutRequest.newBuilder().setRequestId("put-cfg").setKey("fleet/cfg")
            .setValue(ByteString.copyFromUtf8("v1")).build()).getRevision())));
    out.add(new Case("replayed", "Acquire replayed through a follower", ok, () -> assertEquals(tokenA,
        forwardedLocks("orchestrator").acquire(acquire("acq-a", s1, "fleet/a", 0)).getToken())));
    out.add(new Case("replayed", "Put request id reused with another value", invalid, () -> kv("orchestrator").put(
        PutRequest.newBuilder().setRequestId("put-cfg").setKey("fleet/cfg").setValue(ByteString.copyFromUtf8("v2"))
            .build())));
    out.add(new Case("replayed", "Delete reusing a put's request id", invalid, () -> kv("orchestrator").delete(
        DeleteRequest.newBuilder().setRequestId("put-cfg").setKey("fleet/cfg").build())));
    out.add(new Case("replayed", "Revoke request id reused for another lock", invalid, () -> admin("sre").revoke(
        RevokeRequest.newBuilder().setRequestId("revoke-y").setLockName("fleet/a").setReason("suite setup")
            .build())));
    out.add(new Case("replayed", "Acquire of a lock already held, try-once by another session", ok,
        () -> assertTrue(!locks("limited").acquire(acquire("i-" + n(), lim[3], "lim/x", 0)).getGranted())));

    // Limits that depend on the replicated state, enforced in apply.
    out.add(new Case("limits", "OpenSession past max-sessions-per-identity", exhausted,
        () -> sessions("limited").openSession(open("l-" + n(), "one-too-many"))));
    out.add(new Case("limits", "Acquire past max-locks-per-session", exhausted,
        () -> locks("limited").acquire(acquire("l-" + n(), lim[0], "lim/z", 0))));
    out.add(new Case("limits", "Acquire waiting past max-waiters-per-lock", exhausted,
        () -> locks("limited").acquire(acquire("l-" + n(), lim[3], "lim/q", 5_000))));
    out.add(new Case("limits", "Watch past max-watches-per-connection", exhausted, BadInputSuiteTest::thirdWatch));
    return out;
  }

  private static int counter;

  static int n() {
    return ++counter;
  }

  static String printable(String s) {
    String p = s.length() > 24 ? s.substring(0, 24) + "...(" + s.length() + ")" : s;
    StringBuilder b = new StringBuilder();
    p.codePoints().forEach(c -> b.append(c < 0x20 || c > 0x7e ? String.format("\\u%04x", c) : String.valueOf((char) c)));
    return b.toString();
  }

  static Channel rawChannel(int i) {
    ManagedChannel ch = NettyChannelBuilder.forTarget(cluster.endpoint(i)).usePlaintext().build();
    extraChannels.add(ch);
    return ch;
  }

  /** Opens a watch and waits for its first message or its error. */
  static void watch(String who, WatchRequest req) {
    Iterator<io.holdfast.proto.v1.WatchResponse> it = WatchServiceGrpc.newBlockingStub(as(leader, who))
        .withDeadlineAfter(10, TimeUnit.SECONDS).watch(req);
    it.hasNext();
  }

  /** Two watches on one connection are fine; the third is refused. */
  static void thirdWatch() {
    ManagedChannel ch = NettyChannelBuilder.forTarget(cluster.endpoint(leader)).usePlaintext().build();
    extraChannels.add(ch);
    Channel agent = header(ch, "Bearer " + TOKENS.get("agent-7"));
    List<io.grpc.Context.CancellableContext> open = new ArrayList<>();
    try {
      for (int i = 0; i < 2; i++) {
        io.grpc.Context.CancellableContext ctx = io.grpc.Context.current().withCancellation();
        open.add(ctx);
        ctx.run(() -> assertTrue(WatchServiceGrpc.newBlockingStub(agent).watch(WatchRequest.newBuilder()
            .addLockPrefixes("fleet/").build()).hasNext(), "a watch within the limit starts with the state"));
      }
      WatchServiceGrpc.newBlockingStub(agent).withDeadlineAfter(10, TimeUnit.SECONDS)
          .watch(WatchRequest.newBuilder().addLockPrefixes("fleet/").build()).hasNext();
    } finally {
      open.forEach(c -> c.cancel(null));
      ch.shutdownNow();
    }
  }

  static KeepAliveResponse keepAlive(String who, long session) {
    return keepAlive(leader, who, session, false);
  }

  /** {@code forward}: asks a follower to relay it to the leader (KeepAliveRequest.forward). */
  static KeepAliveResponse keepAlive(int node, String who, long session, boolean forward) {
    CompletableFuture<KeepAliveResponse> first = new CompletableFuture<>();
    StreamObserver<KeepAliveRequest> in = SessionServiceGrpc.newStub(as(node, who))
        .withDeadlineAfter(10, TimeUnit.SECONDS).keepAlive(new StreamObserver<>() {
          public void onNext(KeepAliveResponse r) {
            first.complete(r);
          }

          public void onError(Throwable t) {
            first.completeExceptionally(t);
          }

          public void onCompleted() {
            first.completeExceptionally(new AssertionError("stream ended without an answer"));
          }
        });
    in.onNext(KeepAliveRequest.newBuilder().setSessionId(session).setSeq(1).setForward(forward).build());
    try {
      return first.get(15, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof StatusRuntimeException s) {
        throw s;
      }
      throw new AssertionError(e.getCause());
    } catch (InterruptedException | java.util.concurrent.TimeoutException e) {
      throw new AssertionError("no keepalive answer", e);
    } finally {
      try {
        in.onCompleted();
      } catch (RuntimeException ignored) {
        // already closed by the server
      }
    }
  }

  static Status.Code outcome(Runnable call) {
    try {
      call.run();
      return Status.Code.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode();
    }
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  // ---- the tests -------------------------------------------------------------------------------

  @Test
  @Order(1)
  void everyBadInputGetsItsStatusAndChangesNothing() {
    List<Case> cases = cases();
    Map<String, Integer> perCategory = new LinkedHashMap<>();
    List<String> failures = new ArrayList<>();
    int i = 0;
    for (Case c : cases) {
      i++;
      Status.Code got;
      try {
        got = outcome(c.call());
      } catch (AssertionError e) {
        failures.add(c.category() + " / " + c.what() + ": " + e.getMessage());
        continue;
      }
      if (got != c.expected()) {
        failures.add(c.category() + " / " + c.what() + ": expected " + c.expected() + ", got " + got);
      }
      String after = digest(leader);
      if (!after.equals(digestBefore)) {
        fail("case " + i + " (" + c.category() + " / " + c.what() + ") changed the state:\nbefore:\n" + digestBefore
            + "after:\n" + after);
      }
      if (i % 50 == 0) {
        for (int node = 0; node < cluster.size(); node++) {
          assertEquals(digestBefore, digest(node), "node " + ProcessCluster.nodeId(node) + " after case " + i);
        }
      }
      perCategory.merge(c.category(), 1, Integer::sum);
    }
    for (int node = 0; node < cluster.size(); node++) {
      assertEquals(digestBefore, digest(node), "node " + ProcessCluster.nodeId(node) + " after the suite");
    }
    System.out.println("Bad-input suite: " + cases.size() + " cases " + perCategory + ", " + failures.size()
        + " wrong");
    assertTrue(failures.isEmpty(), failures.size() + " of " + cases.size() + " cases got the wrong answer:\n"
        + String.join("\n", failures));
    assertTrue(cases.size() >= 250, "the suite generates hundreds of cases, got " + cases.size());
    // Still serving: an ordinary write and read by an authorised identity work.
    long rev = kv("orchestrator").put(PutRequest.newBuilder().setRequestId("after-suite").setKey("fleet/after")
        .setValue(ByteString.copyFromUtf8("ok")).build()).getRevision();
    assertTrue(rev > revCfg);
    digestBefore = digest(leader);
  }

  @Test
  @Order(2)
  void rawBytesOnTheClientAndPeerPortsDoNotDisturbTheCluster() throws Exception {
    String before = digest(leader);
    long term = cluster.status(leader).getTerm();
    Random random = new Random(7);
    List<byte[]> payloads = new ArrayList<>();
    byte[] garbage = new byte[64 * 1024];
    random.nextBytes(garbage);
    payloads.add(garbage);
    byte[] preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    payloads.add(preface);
    payloads.add(concat(preface, new byte[] {0, 0, 18, 4, 0, 0, 0, 0, 0, 0, 3}));          // SETTINGS cut short
    payloads.add(concat(preface, new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0,                      // empty SETTINGS
        (byte) 0xff, (byte) 0xff, (byte) 0xff, 1, 5, 0, 0, 0, 1, 1, 2, 3}));                    // 16 MB HEADERS, truncated
    payloads.add(concat(preface, new byte[] {0, 0, 8, 0, 1, 0, 0, 0, 1, 9, 9}));              // DATA on an unopened stream
    payloads.add("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    payloads.add(new byte[] {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, (byte) 0xfc, 0x03, 0x03});  // a TLS hello, cut
    List<InetSocketAddress> ports = new ArrayList<>();
    for (int i = 0; i < cluster.size(); i++) {
      ports.add(hostPort(cluster.endpoint(i)));
      ports.add(peerAddress(i));
    }
    int sent = 0;
    List<Socket> idle = new ArrayList<>();
    for (InetSocketAddress port : ports) {
      for (byte[] p : payloads) {
        try (Socket s = new Socket()) {
          s.connect(port, 2_000);
          s.setSoTimeout(500);
          OutputStream o = s.getOutputStream();
          o.write(p);
          o.flush();
          try {
            s.getInputStream().read(new byte[256]);
          } catch (IOException timeoutOrReset) {
            // whatever the server answers (or not) is fine; it must just carry on
          }
        } catch (IOException refused) {
          // a reset while writing is a fine answer too
        }
        sent++;
      }
      for (int k = 0; k < 20; k++) {
        Socket s = new Socket();
        s.connect(port, 2_000);
        s.getOutputStream().write(preface, 0, 10);
        idle.add(s);
      }
    }
    for (Socket s : idle) {
      s.close();
    }
    System.out.println("Raw TCP: " + sent + " payloads and " + idle.size() + " half-open connections on "
        + ports.size() + " ports");
    assertEquals(before, digest(leader), "raw bytes changed the state");
    assertEquals(leader, cluster.awaitLeader(Duration.ofSeconds(30)), "the leader kept its place");
    assertEquals(term, cluster.status(leader).getTerm(), "no election was forced");
    kv("orchestrator").put(PutRequest.newBuilder().setRequestId("after-raw").setKey("fleet/after-raw")
        .setValue(ByteString.copyFromUtf8("ok")).build());

    // And it still elects normally: kill the leader, a new one takes over and serves acknowledged state.
    int old = leader;
    cluster.kill(old);
    leader = cluster.awaitLeader(Duration.ofSeconds(60));
    assertTrue(leader != old);
    assertEquals(revCfg, kv("sre").get(GetRequest.newBuilder().setKey("fleet/cfg").build()).getKv().getRevision());
    assertEquals(tokenA, locks("sre").describeLock(DescribeLockRequest.newBuilder().setLockName("fleet/a").build())
        .getLock().getToken());
  }

  @Test
  @Order(3)
  void anAuditEntryShowsOnlyTheLockNamesTheCallerMayRead() {
    var forLimited = admin("limited").listAudit(ListAuditRequest.newBuilder().setLockName("lim/w").build())
        .getEntriesList();
    var expiry = forLimited.stream().filter(e -> e.getLocksCount() > 0).findFirst().orElseThrow();
    assertEquals(List.of("lim/w"), expiry.getLocksList(), "fleet/w is not the limited identity's to see");
    var forSre = admin("sre").listAudit(ListAuditRequest.newBuilder().setLockName("lim/w").build()).getEntriesList();
    assertEquals(List.of("fleet/w", "lim/w"), forSre.stream().filter(e -> e.getLocksCount() > 0).findFirst()
        .orElseThrow().getLocksList().stream().sorted().toList());
  }

  static byte[] concat(byte[] a, byte[] b) {
    byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  static InetSocketAddress hostPort(String hp) {
    int colon = hp.lastIndexOf(':');
    return new InetSocketAddress(hp.substring(0, colon), Integer.parseInt(hp.substring(colon + 1)));
  }

  static InetSocketAddress peerAddress(int i) {
    String id = ProcessCluster.nodeId(i);
    for (var m : cluster.status(leader).getMembersList()) {
      if (m.getId().equals(id)) {
        return hostPort(m.getPeerAddress());
      }
    }
    throw new AssertionError("no member " + id);
  }

  /** A ManagedChannel whose calls go through {@code calls} (the token interceptor) and whose lifecycle is {@code ch}'s. */
  static final class ForwardingManagedChannel extends ManagedChannel {
    private final ManagedChannel ch;
    private final Channel calls;

    ForwardingManagedChannel(ManagedChannel ch, Channel calls) {
      this.ch = ch;
      this.calls = calls;
    }

    @Override
    public ManagedChannel shutdown() {
      return ch.shutdown();
    }

    @Override
    public boolean isShutdown() {
      return ch.isShutdown();
    }

    @Override
    public boolean isTerminated() {
      return ch.isTerminated();
    }

    @Override
    public ManagedChannel shutdownNow() {
      return ch.shutdownNow();
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
      return ch.awaitTermination(timeout, unit);
    }

    @Override
    public <Q, R> ClientCall<Q, R> newCall(MethodDescriptor<Q, R> method, CallOptions options) {
      return calls.newCall(method, options);
    }

    @Override
    public String authority() {
      return ch.authority();
    }
  }
}
