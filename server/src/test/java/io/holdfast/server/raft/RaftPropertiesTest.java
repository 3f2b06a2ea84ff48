package io.holdfast.server.raft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.config.ServerConfig;
import io.holdfast.server.config.ServerConfigLoader;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.junit.jupiter.api.Test;

/** The Ratis settings whose defaults are wrong for Holdfast, as the server hands them to Ratis. */
class RaftPropertiesTest {
  private static ServerConfig config(Map<String, Object> more) {
    Map<String, Object> raw = new LinkedHashMap<>();
    raw.put("node-id", "n1");
    raw.put("data-dir", "data");
    raw.put("client-tls", "plaintext");
    raw.put("peer-tls", "plaintext");
    raw.put("peers", Map.of("n1", Map.of("peer", "127.0.0.1:7411", "client", "127.0.0.1:7401")));
    raw.putAll(more);
    return ServerConfigLoader.fromMap(raw);
  }

  @Test
  void aLeaderThatLostItsMajorityMayStandAgainAfterOneElectionTimeoutNotRatisTenSeconds() {
    RaftProperties p = RaftNode.properties(config(Map.of()));
    assertEquals(1_000, RaftServerConfigKeys.LeaderElection.leaderStepDownWaitTime(p).toLong(TimeUnit.MILLISECONDS));

    RaftProperties slow = RaftNode.properties(config(Map.of("election-timeout-min-ms", 3_000L,
        "election-timeout-max-ms", 4_500L, "session-ttl-min-ms", 9_000L)));
    assertEquals(4_500, RaftServerConfigKeys.LeaderElection.leaderStepDownWaitTime(slow).toLong(TimeUnit.MILLISECONDS));
  }

  @Test
  void replicationKeepsItsSafetyAndLatencySettings() {
    RaftProperties p = RaftNode.properties(config(Map.of()));
    assertEquals(RaftServerConfigKeys.Read.Option.LINEARIZABLE, RaftServerConfigKeys.Read.option(p));
    assertEquals(false, RaftServerConfigKeys.Log.unsafeFlushEnabled(p));
    assertEquals(false, RaftServerConfigKeys.Log.logMetadataEnabled(p));
    assertEquals(0, RaftServerConfigKeys.Log.Appender.waitTimeMin(p).toLong(TimeUnit.MILLISECONDS));
  }

  @Test
  void aMemberThatIsDownDoesNotHoldBackThePurgeOfTheOthersLogs() {
    RaftProperties p = RaftNode.properties(config(Map.of()));
    assertTrue(RaftServerConfigKeys.Log.purgeUptoSnapshotIndex(p));
    assertEquals(25_000, RaftServerConfigKeys.Log.purgePreservationLogNum(p));
    RaftProperties mid = RaftNode.properties(config(Map.of("snapshot-threshold", 10_000L)));
    assertEquals(5_000, RaftServerConfigKeys.Log.purgePreservationLogNum(mid));
    RaftProperties small = RaftNode.properties(config(Map.of("snapshot-threshold", 500L)));
    assertEquals(500, RaftServerConfigKeys.Log.purgePreservationLogNum(small));
  }

  @Test
  void aLeaderSendsASnapshotOneSmallChunkAtATime() {
    // What a follower that keeps failing the install costs its leader: see RaftNode.properties.
    RaftProperties p = RaftNode.properties(config(Map.of()));
    assertEquals(1, org.apache.ratis.grpc.GrpcConfigKeys.Server.installSnapshotRequestElementLimit(p));
    assertEquals(64 << 10, RaftServerConfigKeys.Log.Appender.snapshotChunkSizeMax(p).getSizeInt());
  }

  @Test
  void theLargestEntryACommandCanMakeFitsRatisBuffers() {
    for (long maxValue : new long[] {1L << 20, 16L << 20}) {
      ServerConfig c = config(Map.of("max-value-bytes", maxValue));
      RaftProperties p = RaftNode.properties(c);
      long entry = c.limits().maxRequestBytes() + CommandBatcher.MAX_BATCH_BYTES;
      long appender = RaftServerConfigKeys.Log.Appender.bufferByteLimit(p).getSize();
      assertTrue(appender > entry, "appender buffer " + appender + " for entries up to " + entry);
      // Ratis refuses to start otherwise, and gRPC must carry what the appender sends.
      assertTrue(RaftServerConfigKeys.Log.writeBufferSize(p).getSize() >= appender + 8);
      assertTrue(org.apache.ratis.grpc.GrpcConfigKeys.messageSizeMax(p, s -> { }).getSize() > appender);
      // Every member takes (and reads back, and sends on) what any other config's leader wrote.
      assertTrue(appender > RaftNode.MAX_ENTRY_BYTES_OF_ANY_CONFIG, "appender buffer " + appender);
      // A segment holds this node's own largest entry; a larger one, from a leader with larger
      // limits, goes into the open segment whole (Ratis allows that; MixedLimitsClusterTest).
      assertTrue(RaftServerConfigKeys.Log.segmentSizeMax(p).getSize() >= RaftNode.maxEntryBytes(c));
    }
  }
}
