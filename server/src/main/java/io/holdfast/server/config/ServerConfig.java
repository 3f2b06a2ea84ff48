package io.holdfast.server.config;

import java.nio.file.Path;
import java.util.List;
import java.util.UUID;

/**
 * A node's whole configuration, immutable and validated ({@link ServerConfigLoader} builds it from
 * a YAML file plus overrides and names the key at fault when a value is wrong).
 *
 * @param nodeId this node's id; one of {@code peers}
 * @param clusterId the Raft group id; identical on every node of one cluster
 * @param peers every voting member
 * @param dataDir where the Raft log and snapshots live
 * @param minSessionTtlMs smallest TTL a session may ask for
 * @param maxSessionTtlMs largest TTL a session may ask for
 * @param electionTimeoutMinMs Raft election timeout, lower bound (heartbeats every half of it)
 * @param electionTimeoutMaxMs Raft election timeout, upper bound
 * @param checkpointIntervalMs R: the leader writes a renewal checkpoint (or an empty tick) at
 *     least this often while sessions exist
 * @param failoverGraceMs what a new leader adds to each session's remaining time
 * @param snapshotThreshold entries between automatic snapshots
 * @param maxWaitMs the longest a queued acquire may ask to wait (-1 "forever" is always allowed)
 * @param maxLockDelayMs the longest lock-delay an acquire may ask for
 * @param maxValueBytes the largest value the key-value store takes
 * @param watchHistory how many applied entries with events each node keeps for watchers to resume
 *     from; an older resume point gets the current state instead
 * @param adminAddress where the admin HTTP port listens (/metrics, /livez, /readyz, /status), or
 *     null for none
 * @param lockDelayDefaults lock-delay for acquires that do not ask, by lock name prefix (the
 *     longest matching prefix wins)
 * @param security TLS on the client and peer ports, authentication and the ACL
 * @param limits per-caller limits (sessions, locks, waiters, watches, request size and rate)
 * @param raftLogDir Ratis's storage directory: the Raft log segments (fsync'd on every commit),
 *     the term and vote, and the state machine snapshots Ratis ships to lagging followers; put it
 *     on the fastest disk. Defaults to {@code <data-dir>/raft}
 * @param join true for a node that joins a running cluster: it starts with no members, waits
 *     to be added ({@code holdfast member add}), and learns the members from the leader; only
 *     its own entry in {@code peers} is used
 * @param batchMaxCommands the most commands the leader puts into one Raft entry (1: no batching)
 * @param batchInFlight how many entries the leader keeps in flight before further commands wait
 *     and go out together in the next one (a lone command never waits)
 * @param batchLingerMicros how long the leader may hold queued commands, once a batch of several
 *     has committed, for that batch's callers to send their next ones into the same entry, and
 *     an acquire that queues behind other waiters anyway for a command to go out with (0: never)
 * @param fastFailover true: a follower that finds the leader's process gone (its Raft stream cut,
 *     its Raft port refusing connections) starts an election at once instead of waiting out the
 *     election timeout
 * @param clientListenAddress where the client port binds: this node's {@code client} address in
 *     {@code peers} (what clients are told, e.g. in leader hints) unless {@code client-listen-address}
 *     names another, as behind NAT, a port mapping or a proxy
 */
public record ServerConfig(
    String nodeId,
    UUID clusterId,
    List<PeerConfig> peers,
    Path dataDir,
    long minSessionTtlMs,
    long maxSessionTtlMs,
    long electionTimeoutMinMs,
    long electionTimeoutMaxMs,
    long checkpointIntervalMs,
    long failoverGraceMs,
    long snapshotThreshold,
    long maxWaitMs,
    long maxLockDelayMs,
    java.util.SortedMap<String, Long> lockDelayDefaults,
    long maxValueBytes,
    int watchHistory,
    HostPort adminAddress,
    SecurityConfig security,
    Limits limits,
    Path raftLogDir,
    boolean join,
    int batchMaxCommands,
    int batchInFlight,
    long batchLingerMicros,
    boolean fastFailover,
    HostPort clientListenAddress) {

  public ServerConfig {
    peers = List.copyOf(peers);
    lockDelayDefaults = java.util.Collections.unmodifiableSortedMap(new java.util.TreeMap<>(lockDelayDefaults));
  }

  /** Where a restore leaves the state a new node starts from (see backup.RestoreSeed). */
  public Path restoreSeedFile() {
    return dataDir.resolve("restore").resolve("seed.snapshot");
  }

  /** The configured lock-delay for {@code lockName}: its longest matching prefix's, or 0. */
  public long defaultLockDelayMs(String lockName) {
    String best = null;
    for (String prefix : lockDelayDefaults.keySet()) {
      if (lockName.startsWith(prefix) && (best == null || prefix.length() > best.length())) {
        best = prefix;
      }
    }
    return best == null ? 0 : lockDelayDefaults.get(best);
  }

  public PeerConfig self() {
    return peer(nodeId);
  }

  /** Every address this node binds, each with the key that names it, for {@link ListenProbe}. */
  public List<ListenProbe.Listener> listeners() {
    List<ListenProbe.Listener> all = new java.util.ArrayList<>();
    all.add(new ListenProbe.Listener("peers." + nodeId + " (peer address)", self().peerAddress()));
    all.add(new ListenProbe.Listener(clientListenAddress.equals(self().clientAddress())
        ? "peers." + nodeId + " (client address)" : "client-listen-address", clientListenAddress));
    if (adminAddress != null) {
      all.add(new ListenProbe.Listener("admin-address", adminAddress));
    }
    return all;
  }

  public PeerConfig peer(String id) {
    for (PeerConfig p : peers) {
      if (p.id().equals(id)) {
        return p;
      }
    }
    return null;
  }
}
