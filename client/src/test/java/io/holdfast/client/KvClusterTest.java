package io.holdfast.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.proto.v1.AcquireRequest;
import io.holdfast.proto.v1.LockServiceGrpc;
import io.holdfast.proto.v1.OpenSessionRequest;
import io.holdfast.proto.v1.SessionServiceGrpc;
import io.holdfast.client.testing.ClusterExtension;
import io.holdfast.server.testing.ProcessCluster;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The fenced key-value store through the client, on a real 3-node cluster. */
class KvClusterTest {
  static final int MAX_VALUE = 4_096;
  static final int MAX_KV = 40_000;

  @RegisterExtension
  static final ClusterExtension CLUSTER =
      new ClusterExtension(Map.of("max-value-bytes", Integer.toString(MAX_VALUE), "max-kv-bytes",
          Integer.toString(MAX_KV)), "kv-test");
  static ProcessCluster cluster;
  static HoldfastClient client;

  @BeforeAll
  static void bind() {
    cluster = CLUSTER.cluster();
    client = CLUSTER.client();
  }

  /**
   * A lease whose fenced write the cluster refused as stale says it is invalid at once: the refusal
   * proves its grant over, and the session's next keepalive answer may be seconds away.
   */
  @Test
  void aLeaseWhoseFencedWriteIsRefusedAsStaleIsInvalidAtOnce() throws Exception {
    try (Session s = client.newSession(Duration.ofSeconds(30))) {
      for (int attempt = 0; ; attempt++) {
        LockLease lease = s.lock("kv-test/taken-away");
        client.kv().putFenced("kv-test/taken-away/state", bytes("v1"), lease);
        client.admin().revoke("kv-test/taken-away", "test: taken away", 0, false, "test");
        if (!lease.isValid() && attempt < 3) {
          continue; // a keepalive answer (every 10 s) told it first: not what this test is about
        }
        assertTrue(lease.isValid(), "not known yet");
        assertThrows(StaleTokenException.class,
            () -> client.kv().putFenced("kv-test/taken-away/state", bytes("v2"), lease));
        assertFalse(lease.isValid(), "the refusal proved the grant over");
        assertEquals("v1", new String(client.kv().get("kv-test/taken-away/state").orElseThrow().value(),
            StandardCharsets.UTF_8));
        return;
      }
    }
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** The async API's failure, as the sync API would throw it. */
  static <T> T join(java.util.concurrent.CompletableFuture<T> f) {
    try {
      return f.join();
    } catch (CompletionException e) {
      throw (RuntimeException) e.getCause();
    }
  }

  static String value(String key) {
    return client.kv().get(key).orElseThrow().valueAsString();
  }

  @Test
  void aFencedPutSucceedsOnlyWithTheCurrentTokenOfAHeldLock() throws Exception {
    KvClient kv = client.kv();
    String key = "fleet/aim_lock_config.conf";
    Session a = client.newSession(Duration.ofSeconds(10));
    Session b = client.newSession(Duration.ofSeconds(10));

    LockLease first = a.tryLock("fleet/aim_lock_config").orElseThrow();
    long rev = kv.putFenced(key, bytes("threads=8"), first);
    KeyValue written = kv.get(key).orElseThrow();
    assertEquals(rev, written.revision());
    assertEquals("fleet/aim_lock_config", written.fenceLock());
    assertEquals(first.token(), written.fenceToken(), "the value remembers the token it was written under");
    assertTrue(kv.validateFence("fleet/aim_lock_config", first.token()));

    // After release: the token is stale.
    first.close();
    assertFalse(kv.validateFence("fleet/aim_lock_config", first.token()));
    StaleTokenException afterRelease = assertThrows(StaleTokenException.class,
        () -> kv.putFenced(key, bytes("threads=1"), first));
    assertTrue(afterRelease.getMessage().contains("not held"), afterRelease.getMessage());
    assertEquals("threads=8", value(key));

    // Another holder: the older token is refused, naming the current one.
    LockLease second = b.tryLock("fleet/aim_lock_config").orElseThrow();
    StaleTokenException older = assertThrows(StaleTokenException.class,
        () -> join(kv.putAsync(key, bytes("threads=2"), -1, "fleet/aim_lock_config", first.token())));
    assertTrue(older.getMessage().contains(Long.toString(second.token())), older.getMessage());
    assertEquals("threads=8", value(key));
    kv.putFenced(key, bytes("threads=16"), second);
    assertEquals("threads=16", value(key));

    // After a revoke: the revoked holder's token is refused.
    client.admin().revoke("fleet/aim_lock_config", "test", 0, false, "kv-test");
    assertThrows(StaleTokenException.class, () -> kv.putFenced(key, bytes("threads=32"), second));
    assertEquals("threads=16", value(key));
    a.close();
    b.close();
  }

  @Test
  void aFencedPutAfterTheHoldersSessionExpiredIsRefused() throws Exception {
    int leader = cluster.awaitLeader(Duration.ofSeconds(30));
    long silent = SessionServiceGrpc.newBlockingStub(cluster.channel(leader)).openSession(OpenSessionRequest
        .newBuilder().setRequestId(UUID.randomUUID().toString()).setTtlMs(2_000).build()).getSessionId();
    long token = LockServiceGrpc.newBlockingStub(cluster.channel(leader)).acquire(AcquireRequest.newBuilder()
        .setRequestId(UUID.randomUUID().toString()).setSessionId(silent).setLockName("kv/expiring").build()).getToken();
    client.kv().putAsync("kv/expiring.conf", bytes("v1"), -1, "kv/expiring", token).join();
    long end = System.nanoTime() + 10_000_000_000L;
    while (client.kv().validateFence("kv/expiring", token) && System.nanoTime() < end) {
      Thread.sleep(100);
    }
    assertThrows(StaleTokenException.class,
        () -> join(client.kv().putAsync("kv/expiring.conf", bytes("v2"), -1, "kv/expiring", token)));
    assertEquals("v1", value("kv/expiring.conf"));
  }

  @Test
  void compareAndSetOnRevision() {
    KvClient kv = client.kv();
    long r1 = kv.putIfRevision("cas/a", bytes("one"), 0);
    assertThrows(RevisionMismatchException.class, () -> kv.putIfRevision("cas/a", bytes("again"), 0),
        "0 means: only if absent");
    long r2 = kv.putIfRevision("cas/a", bytes("two"), r1);
    assertTrue(r2 > r1);
    assertThrows(RevisionMismatchException.class, () -> kv.putIfRevision("cas/a", bytes("stale"), r1));
    assertEquals("two", value("cas/a"));
    assertEquals(r1, kv.get("cas/a").orElseThrow().createRevision());
    assertTrue(kv.delete("cas/a"));
    assertFalse(kv.delete("cas/a"));
    assertTrue(kv.get("cas/a").isEmpty());
  }

  @Test
  void oversizedValuesAndBadKeysAreInvalidArguments() {
    KvClient kv = client.kv();
    byte[] atLimit = new byte[MAX_VALUE];
    atLimit[7] = 42;
    kv.put("limit/ok", atLimit);
    assertArrayEquals(atLimit, kv.get("limit/ok").orElseThrow().value());
    InvalidArgumentException big = assertThrows(InvalidArgumentException.class,
        () -> kv.put("limit/big", new byte[MAX_VALUE + 1]));
    assertTrue(big.getMessage().contains("max-value-bytes"), big.getMessage());
    for (String bad : new String[] {"", "has space", "a//b", "../etc/passwd", "trailing/", "x".repeat(300)}) {
      assertThrows(InvalidArgumentException.class, () -> kv.put(bad, bytes("v")), "key '" + bad + "'");
    }
    assertTrue(kv.get("limit/big").isEmpty());
  }

  @Test
  void listReturnsKeysUnderAPrefixInOrder() {
    KvClient kv = client.kv();
    kv.put("list/b", bytes("2"));
    kv.put("list/a", bytes("1"));
    kv.put("listing/c", bytes("3"));
    List<KeyValue> under = kv.list("list/");
    assertEquals(List.of("list/a", "list/b"), under.stream().map(KeyValue::key).toList());
    assertEquals("1", under.get(0).valueAsString());
  }

  @Test
  void aFullStoreRefusesPutsThatGrowItWithResourceExhaustedAndADeleteMakesRoom() {
    KvClient kv = client.kv();
    byte[] value = new byte[MAX_VALUE];
    int written = 0;
    HoldfastException refused = null;
    try {
      // The other tests' keys share the store: fill it from wherever they left it.
      for (int i = 0; i < 2 * MAX_KV / MAX_VALUE && refused == null; i++) {
        try {
          kv.put("quota/" + i, value);
          written++;
        } catch (HoldfastException e) {
          refused = e;
        }
      }
      assertTrue(refused != null, "no put was refused after " + written + " of " + MAX_VALUE + " bytes");
      org.junit.jupiter.api.Assertions.assertInstanceOf(io.holdfast.client.LimitExceededException.class, refused,
          "a limit, typed as one");
      assertTrue(refused.getMessage().startsWith("RESOURCE_EXHAUSTED") && refused.getMessage().contains("max-kv-bytes"),
          refused.getMessage());
      assertTrue(written >= 3, "only " + written + " puts fitted under " + MAX_KV + " bytes");
      assertFalse(kv.get("quota/" + written).isPresent(), "the refused put left nothing");
      kv.put("quota/0", new byte[1]); // shrinking a key is always allowed
      kv.put("quota/" + written, value); // and the room it made is usable
      assertTrue(kv.delete("quota/" + written));
    } finally {
      for (int i = 0; i <= written; i++) {
        kv.delete("quota/" + i);
      }
    }
  }
}
