package io.holdfast.server.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ServerConfigLoaderTest {
  private static final String CLUSTER = "9d2b0b0e-5d3c-4b8e-8d55-2b7f1f0c8a11";

  private static Map<String, Object> peer(String peer, String client) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("peer", peer);
    m.put("client", client);
    return m;
  }

  /** A valid three-node configuration, as SnakeYAML would hand it over. */
  private static Map<String, Object> valid() {
    Map<String, Object> peers = new LinkedHashMap<>();
    peers.put("n1", peer("10.0.0.1:7410", "10.0.0.1:7400"));
    peers.put("n2", peer("10.0.0.2:7410", "10.0.0.2:7400"));
    peers.put("n3", peer("10.0.0.3:7410", "10.0.0.3:7400"));
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("node-id", "n2");
    m.put("cluster-id", CLUSTER);
    m.put("data-dir", "/var/lib/holdfast");
    m.put("peers", peers);
    m.put("session-ttl-min-ms", 2_000);
    m.put("client-tls", "plaintext");
    m.put("peer-tls", "plaintext");
    return m;
  }

  private static Map<String, Object> with(String key, Object value) {
    Map<String, Object> m = valid();
    m.put(key, value);
    return m;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> peers(Map<String, Object> m) {
    return (Map<String, Object>) m.get("peers");
  }

  /** Loading fails, and the message starts with the key at fault. */
  private static String failsNaming(String key, Map<String, Object> raw) {
    ConfigException e = assertThrows(ConfigException.class, () -> ServerConfigLoader.fromMap(raw));
    assertTrue(e.getMessage().startsWith(key), "message should name '" + key + "': " + e.getMessage());
    return e.getMessage();
  }

  @Test
  void validMapGivesTheConfigWithDefaultsForTheRest() {
    ServerConfig c = ServerConfigLoader.fromMap(valid());

    assertEquals("n2", c.nodeId());
    assertEquals(UUID.fromString(CLUSTER), c.clusterId());
    assertEquals(Path.of("/var/lib/holdfast"), c.dataDir());
    assertEquals(List.of("n1", "n2", "n3"), c.peers().stream().map(PeerConfig::id).toList());
    assertEquals(new PeerConfig("n2", new HostPort("10.0.0.2", 7410), new HostPort("10.0.0.2", 7400)), c.self());
    assertEquals(2_000, c.minSessionTtlMs());
    assertEquals(300_000, c.maxSessionTtlMs());
    assertEquals(500, c.electionTimeoutMinMs());
    assertEquals(1_000, c.electionTimeoutMaxMs());
    assertEquals(1_000, c.checkpointIntervalMs());
    assertEquals(0, c.failoverGraceMs());
    assertEquals(100_000, c.snapshotThreshold());
    assertEquals(3_600_000, c.maxWaitMs());
    assertEquals(256, c.batchMaxCommands());
    assertEquals(1, c.batchInFlight());
    assertEquals(2_000, c.batchLingerMicros());
  }

  @Test
  void anAdminAddressOnThisNodesClientOrPeerPortIsRefusedByName() {
    assertTrue(failsNaming("admin-address", with("admin-address", "10.0.0.2:7400")).contains("client address"));
    assertTrue(failsNaming("admin-address", with("admin-address", "0.0.0.0:7410")).contains("peer address"));
    // Another node's ports are on another machine; another port is fine.
    assertEquals(7400, ServerConfigLoader.fromMap(with("admin-address", "10.0.0.1:7400")).adminAddress().port());
    assertEquals(7420, ServerConfigLoader.fromMap(with("admin-address", "0.0.0.0:7420")).adminAddress().port());
  }

  @Test
  void theClientPortListensOnItsPeersEntryUnlessClientListenAddressSaysOtherwise() {
    ServerConfig plain = ServerConfigLoader.fromMap(with("admin-address", "10.0.0.1:7420"));
    assertEquals(plain.self().clientAddress(), plain.clientListenAddress());
    ServerConfig mapped = ServerConfigLoader.fromMap(with("client-listen-address", "0.0.0.0:17400"));
    assertEquals(new HostPort("0.0.0.0", 17400), mapped.clientListenAddress());
    assertEquals(plain.self().clientAddress(), mapped.self().clientAddress(), "clients are still told the peers entry");
    failsNaming("client-listen-address", with("client-listen-address", "nowhere"));
    failsNaming("client-listen-address", with("client-listen-address", "10.0.0.1:99999"));
    assertTrue(failsNaming("client-listen-address", with("client-listen-address", "0.0.0.0:7410"))
        .contains("peer address"));
    // The advertised client port is another machine's (a proxy's) once the node listens elsewhere.
    Map<String, Object> proxied = with("client-listen-address", "0.0.0.0:17400");
    proxied.put("admin-address", "0.0.0.0:7400");
    assertEquals(7400, ServerConfigLoader.fromMap(proxied).adminAddress().port());
    proxied.put("admin-address", "10.0.0.2:17400");
    assertTrue(failsNaming("admin-address", proxied).contains("client-listen-address"));
  }

  @Test
  void batchLingerIsZeroToTenMilliseconds() {
    assertEquals(0, ServerConfigLoader.fromMap(with("batch-linger-us", 0)).batchLingerMicros(), "0 switches it off");
    assertEquals(10_000, ServerConfigLoader.fromMap(with("batch-linger-us", 10_000)).batchLingerMicros());
    failsNaming("batch-linger-us", with("batch-linger-us", 10_001));
    failsNaming("batch-linger-us", with("batch-linger-us", -1));
    failsNaming("batch-linger-us", with("batch-linger-us", "2ms"));
  }

  @Test
  void numbersMayBeGivenAsText() {
    Map<String, Object> m = with("snapshot-threshold", " 500 ");
    m.put("failover-grace-ms", "0");
    ServerConfig c = ServerConfigLoader.fromMap(m);
    assertEquals(500, c.snapshotThreshold());
    assertEquals(0, c.failoverGraceMs());
  }

  /**
   * BUG: the built-in defaults contradict the loader's own rule session-ttl-min-ms >= 2 *
   * election-timeout-max-ms (1000 < 2 * 1000), so a config that sets only the required keys is
   * refused. Enable once the defaults agree (e.g. session-ttl-min-ms 2000).
   */
  @Test
  void requiredKeysAloneAreEnoughBecauseTheDefaultsAreValid() {
    Map<String, Object> m = valid();
    m.remove("session-ttl-min-ms");
    assertNotNull(ServerConfigLoader.fromMap(m));
  }

  @Test
  void unknownKeyIsRefusedByName() {
    ConfigException e = assertThrows(ConfigException.class,
        () -> ServerConfigLoader.fromMap(with("session-tll-min-ms", 3_000)));
    assertTrue(e.getMessage().contains("'session-tll-min-ms'"), e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {"node-id", "peers", "data-dir"})
  void missingRequiredKeyIsNamed(String key) {
    Map<String, Object> m = valid();
    m.remove(key);
    failsNaming(key, m);
  }

  @ParameterizedTest
  @ValueSource(strings = {"session-ttl-min-ms", "session-ttl-max-ms", "election-timeout-min-ms",
      "election-timeout-max-ms", "checkpoint-interval-ms", "failover-grace-ms", "snapshot-threshold", "max-wait-ms"})
  void badNumberIsNamed(String key) {
    failsNaming(key, with(key, "ten"));
    failsNaming(key, with(key, -1));
  }

  @ParameterizedTest
  @ValueSource(strings = {"session-ttl-min-ms", "session-ttl-max-ms", "election-timeout-min-ms",
      "election-timeout-max-ms", "checkpoint-interval-ms", "snapshot-threshold", "max-wait-ms"})
  void zeroIsRefusedWherePositiveIsRequired(String key) {
    failsNaming(key, with(key, 0));
  }

  @Test
  void electionTimeoutMinimumMustBeBelowTheMaximum() {
    Map<String, Object> m = with("election-timeout-min-ms", 1_000);
    m.put("election-timeout-max-ms", 1_000);
    failsNaming("election-timeout-min-ms", m);
    m.put("election-timeout-min-ms", 1_500);
    failsNaming("election-timeout-min-ms", m);
  }

  @Test
  void sessionTtlMinimumMustNotExceedTheMaximum() {
    Map<String, Object> m = with("session-ttl-min-ms", 60_000);
    m.put("session-ttl-max-ms", 30_000);
    String msg = failsNaming("session-ttl-min-ms", m);
    assertTrue(msg.contains("session-ttl-max-ms"), msg);
    m.put("session-ttl-max-ms", 60_000);
    assertEquals(60_000, ServerConfigLoader.fromMap(m).maxSessionTtlMs(), "equal bounds are allowed");
  }

  @Test
  void sessionTtlMinimumMustOutlastTwoElectionTimeouts() {
    Map<String, Object> m = with("election-timeout-max-ms", 1_001);
    failsNaming("session-ttl-min-ms", m);
  }

  @Test
  void checkpointIntervalMustBeAtMostHalfTheMinimumTtl() {
    failsNaming("checkpoint-interval-ms", with("checkpoint-interval-ms", 1_001));
    assertEquals(1_000, ServerConfigLoader.fromMap(with("checkpoint-interval-ms", 1_000)).checkpointIntervalMs());
  }

  @Test
  void nodeIdMustBeOneOfThePeers() {
    String msg = failsNaming("node-id", with("node-id", "n9"));
    assertTrue(msg.contains("n1") && msg.contains("n3"), msg);
  }

  @Test
  void malformedNodeIdIsNamed() {
    failsNaming("node-id", with("node-id", "n 1"));
  }

  @Test
  void badClusterIdIsNamed() {
    failsNaming("cluster-id", with("cluster-id", "not-a-uuid"));
  }

  @Test
  void addressUsedTwiceIsRefusedNamingThePeer() {
    Map<String, Object> m = valid();
    peers(m).put("n3", peer("10.0.0.3:7410", "10.0.0.1:7400"));
    String msg = failsNaming("peers.n3", m);
    assertTrue(msg.contains("10.0.0.1:7400"), msg);

    Map<String, Object> same = valid();
    peers(same).put("n1", peer("10.0.0.1:7400", "10.0.0.1:7400"));
    failsNaming("peers.n1", same);
  }

  @ParameterizedTest
  @ValueSource(strings = {"10.0.0.3", "10.0.0.3:", ":7410", "10.0.0.3:http", "10.0.0.3:0", "10.0.0.3:65536", ""})
  void badHostPortIsNamedDownToTheField(String address) {
    Map<String, Object> m = valid();
    peers(m).put("n3", peer(address, "10.0.0.3:7400"));
    failsNaming("peers.n3.peer", m);

    Map<String, Object> client = valid();
    peers(client).put("n3", peer("10.0.0.3:7410", address));
    failsNaming("peers.n3.client", client);
  }

  @Test
  void peerEntriesMustHaveOnlyPeerAndClient() {
    Map<String, Object> m = valid();
    Map<String, Object> p = peer("10.0.0.3:7410", "10.0.0.3:7400");
    p.put("admin", "10.0.0.3:7420");
    peers(m).put("n3", p);
    failsNaming("peers.n3", m);

    Map<String, Object> notAMap = valid();
    peers(notAMap).put("n3", "10.0.0.3:7410");
    failsNaming("peers.n3", notAMap);

    Map<String, Object> missing = valid();
    Map<String, Object> half = new LinkedHashMap<>();
    half.put("peer", "10.0.0.3:7410");
    peers(missing).put("n3", half);
    failsNaming("peers.n3.client", missing);
  }

  @Test
  void ipv6LiteralsAreAccepted() {
    Map<String, Object> m = valid();
    peers(m).put("n3", peer("[fd00::3]:7410", "[fd00::3]:7400"));
    PeerConfig n3 = ServerConfigLoader.fromMap(m).peer("n3");
    assertEquals(new HostPort("fd00::3", 7410), n3.peerAddress());
    assertEquals("[fd00::3]:7400", n3.clientAddress().toString());
  }

  @Test
  void peersMayBeGivenInTheOverrideForm() {
    Map<String, Object> m = with("peers", "n1=h1:7410/h1:7400, n2=h2:7410/h2:7400");
    ServerConfig c = ServerConfigLoader.fromMap(m);
    assertEquals(List.of(
        new PeerConfig("n1", new HostPort("h1", 7410), new HostPort("h1", 7400)),
        new PeerConfig("n2", new HostPort("h2", 7410), new HostPort("h2", 7400))), c.peers());

    failsNaming("peers", with("peers", "n1=h1:7410"));
  }

  // ---- files, overrides, environment ----------------------------------------------------------

  private static final String YAML = String.join("\n",
      "node-id: n1",
      "cluster-id: " + CLUSTER,
      "data-dir: /srv/holdfast/from-file",
      "session-ttl-min-ms: 4000",
      "snapshot-threshold: 2000",
      "client-tls: plaintext",
      "peer-tls: plaintext",
      "peers:",
      "  n1: {peer: 127.0.0.1:7411, client: 127.0.0.1:7401}",
      "  n2: {peer: 127.0.0.1:7412, client: 127.0.0.1:7402}",
      "  n3: {peer: 127.0.0.1:7413, client: 127.0.0.1:7403}",
      "");

  @Test
  void loadsAYamlFile(@TempDir Path dir) throws Exception {
    Path file = Files.writeString(dir.resolve("holdfast.yaml"), YAML);

    ServerConfig c = ServerConfigLoader.load(file, Map.of(), Map.of());

    assertEquals("n1", c.nodeId());
    assertEquals(Path.of("/srv/holdfast/from-file"), c.dataDir());
    assertEquals(4_000, c.minSessionTtlMs());
    assertEquals(2_000, c.snapshotThreshold());
    assertEquals(new HostPort("127.0.0.1", 7403), c.peer("n3").clientAddress());
  }

  @Test
  void overridesBeatTheFileAndTheEnvironmentBeatsBoth(@TempDir Path dir) throws Exception {
    Path file = Files.writeString(dir.resolve("holdfast.yaml"), YAML);
    Map<String, String> overrides = Map.of("data-dir", "/from/flag", "snapshot-threshold", "300");
    Map<String, String> env = Map.of(
        "HOLDFAST_DATA_DIR", "/from/env",
        "HOLDFAST_OPTS", "-Xmx1g",
        "HOLDFAST_JAVA_HOME", "/usr/lib/jvm/17",
        "PATH", "/usr/bin",
        "DATA_DIR", "/not/ours");

    ServerConfig c = ServerConfigLoader.load(file, overrides, env);

    assertEquals(Path.of("/from/env"), c.dataDir());
    assertEquals(300, c.snapshotThreshold());
    assertEquals(4_000, c.minSessionTtlMs());
  }

  @Test
  void environmentNamesMapToKeys(@TempDir Path dir) throws Exception {
    Path file = Files.writeString(dir.resolve("holdfast.yaml"), YAML);
    ServerConfig c = ServerConfigLoader.load(file, Map.of(),
        Map.of("HOLDFAST_NODE_ID", "n3", "HOLDFAST_SESSION_TTL_MAX_MS", "90000"));
    assertEquals("n3", c.nodeId());
    assertEquals(90_000, c.maxSessionTtlMs());
  }

  @Test
  void badValueFromTheEnvironmentIsNamedByItsKey(@TempDir Path dir) throws Exception {
    Path file = Files.writeString(dir.resolve("holdfast.yaml"), YAML);
    ConfigException e = assertThrows(ConfigException.class,
        () -> ServerConfigLoader.load(file, Map.of(), Map.of("HOLDFAST_MAX_WAIT_MS", "soon")));
    assertTrue(e.getMessage().startsWith("max-wait-ms"), e.getMessage());
  }

  @Test
  void withoutAFileEverythingMayComeFromOverrides() {
    Map<String, String> overrides = new LinkedHashMap<>();
    overrides.put("node-id", "n1");
    overrides.put("peers", "n1=127.0.0.1:7411/127.0.0.1:7401");
    overrides.put("data-dir", "/tmp/hf");
    overrides.put("session-ttl-min-ms", "2000");
    overrides.put("client-tls", "plaintext");
    overrides.put("peer-tls", "plaintext");
    ServerConfig c = ServerConfigLoader.load(null, overrides, Map.of());
    assertEquals("n1", c.self().id());
  }

  @Test
  void fileThatIsNotAMappingOrNotYamlIsRefusedNamingTheFile(@TempDir Path dir) throws Exception {
    Path list = Files.writeString(dir.resolve("list.yaml"), "- a\n- b\n");
    ConfigException e1 = assertThrows(ConfigException.class, () -> ServerConfigLoader.load(list, Map.of(), Map.of()));
    assertTrue(e1.getMessage().contains("list.yaml"), e1.getMessage());

    Path broken = Files.writeString(dir.resolve("broken.yaml"), "node-id: [n1\npeers: {");
    ConfigException e2 = assertThrows(ConfigException.class, () -> ServerConfigLoader.load(broken, Map.of(), Map.of()));
    assertTrue(e2.getMessage().contains("broken.yaml"), e2.getMessage());

    Path missing = dir.resolve("missing.yaml");
    ConfigException e3 = assertThrows(ConfigException.class, () -> ServerConfigLoader.load(missing, Map.of(), Map.of()));
    assertTrue(e3.getMessage().contains("missing.yaml"), e3.getMessage());
  }

  @Test
  void aKeyGivenTwiceIsRefusedNotSettledByTheLastOne(@TempDir Path dir) throws Exception {
    // As an uncommented mTLS block above the sample's "client-tls: plaintext" would leave it.
    Path file = Files.writeString(dir.resolve("twice.yaml"), "client-tls: mtls\n" + YAML);
    ConfigException e = assertThrows(ConfigException.class, () -> ServerConfigLoader.load(file, Map.of(), Map.of()));
    assertTrue(e.getMessage().contains("client-tls") && e.getMessage().contains("twice.yaml"), e.getMessage());

    Path peerTwice = Files.writeString(dir.resolve("peers.yaml"),
        YAML + "  n2: {peer: 127.0.0.1:7414, client: 127.0.0.1:7404}\n");
    ConfigException p = assertThrows(ConfigException.class,
        () -> ServerConfigLoader.load(peerTwice, Map.of(), Map.of()));
    assertTrue(p.getMessage().contains("n2"), p.getMessage());

    failsNaming("peers.n1", with("peers", "n1=10.0.0.1:7410/10.0.0.1:7400,n1=10.0.0.9:7410/10.0.0.9:7400,"
        + "n2=10.0.0.2:7410/10.0.0.2:7400"));
    failsNaming("lock-delay-defaults.fleet/", with("lock-delay-defaults", "fleet/=100,fleet/=200"));
  }

  @Test
  void aPrefixWithAWildcardOrCharactersNoNameHasIsRefused() {
    failsNaming("acl[0].prefix", with("acl", List.of(Map.of("identity", "o", "prefix", "fleet/*",
        "verbs", List.of("lock")))));
    failsNaming("lock-delay-defaults.fleet/*", with("lock-delay-defaults", Map.of("fleet/*", 1_000)));
  }

  @Test
  void everyPeersIdMustBeOneAMemberCanStartUnder() {
    Map<String, Object> m = valid();
    peers(m).put("n2.dc1", peers(m).remove("n3"));
    failsNaming("peers.n2.dc1", m);
  }

  @Test
  void valuesPastTheirCeilingAreRefusedByNameInsteadOfOverflowingLater() {
    // Each passed every check through overflow, then failed at run time (or expired every session).
    failsNaming("election-timeout-max-ms", with("election-timeout-max-ms", 4_611_686_018_427_387_904L));
    failsNaming("checkpoint-interval-ms", with("checkpoint-interval-ms", Long.MAX_VALUE));
    failsNaming("failover-grace-ms", with("failover-grace-ms", Long.MAX_VALUE));
    failsNaming("session-ttl-max-ms", with("session-ttl-max-ms", 4_294_967_296_000L));
    failsNaming("max-lock-delay-ms", with("max-lock-delay-ms", Long.MAX_VALUE));
    failsNaming("max-wait-ms", with("max-wait-ms", Long.MAX_VALUE));
    assertEquals(2_592_000_000L, ServerConfigLoader.fromMap(with("session-ttl-max-ms", 2_592_000_000L))
        .maxSessionTtlMs(), "30 days is allowed");
    failsNaming("max-request-bytes", with("max-request-bytes", 3_000_000_000L));
    failsNaming("watch-history", with("watch-history", 5_000_000));
    failsNaming("max-watches-per-connection", with("max-watches-per-connection", Long.MAX_VALUE));
    Map<String, Object> m = with("max-request-bytes", ServerConfigLoader.MAX_REQUEST_BYTES);
    m.put("max-value-bytes", 16 << 20);
    assertEquals(ServerConfigLoader.MAX_REQUEST_BYTES, ServerConfigLoader.fromMap(m).limits().maxRequestBytes(),
        "the ceiling itself is allowed");
  }

  @Test
  void unknownKeyInTheFileIsNamed(@TempDir Path dir) throws Exception {
    Path file = Files.writeString(dir.resolve("holdfast.yaml"), YAML + "electon-timeout-max-ms: 900\n");
    ConfigException e = assertThrows(ConfigException.class, () -> ServerConfigLoader.load(file, Map.of(), Map.of()));
    assertTrue(e.getMessage().contains("'electon-timeout-max-ms'"), e.getMessage());
  }

  @Test
  void environmentVariablesThatAreNotConfigKeysDoNotStopTheNode() throws Exception {
    java.nio.file.Path file = java.nio.file.Files.createTempFile("holdfast", ".yaml");
    try {
      java.nio.file.Files.writeString(file, String.join("\n", "node-id: n1", "data-dir: /tmp/x",
          "client-tls: plaintext", "peer-tls: plaintext", "peers:", "  n1: {peer: 127.0.0.1:7410, client: 127.0.0.1:7400}", ""));
      ServerConfig c = ServerConfigLoader.load(file, Map.of(), Map.of("HOLDFAST_ENDPOINTS", "a:1,b:2",
          "HOLDFAST_JAVA_OPTS", "-Xmx1g", "HOLDFAST_MAX_WAIT_MS", "1234"));
      assertEquals(1234, c.maxWaitMs(), "a variable that names a key still overrides it");
    } finally {
      java.nio.file.Files.deleteIfExists(file);
    }
  }

  // ---- security and limits --------------------------------------------------------------------

  @Test
  void transportSecurityMustBeChosenExplicitly() {
    Map<String, Object> m = valid();
    m.remove("client-tls");
    failsNaming("client-tls", m);
    Map<String, Object> p = valid();
    p.remove("peer-tls");
    failsNaming("peer-tls", p);
    failsNaming("client-tls", with("client-tls", "sometimes"));
    failsNaming("peer-tls", with("peer-tls", "tls"));
  }

  @Test
  void tlsModesNeedTheirFiles(@TempDir Path dir) throws Exception {
    failsNaming("client-tls-cert", with("client-tls", "tls"));
    Path pem = Files.writeString(dir.resolve("x.pem"), "not checked here");
    Map<String, Object> m = with("client-tls", "mtls");
    m.put("client-tls-cert", pem.toString());
    m.put("client-tls-key", pem.toString());
    failsNaming("client-tls-ca", m);
    m.put("client-tls-ca", dir.resolve("missing.pem").toString());
    failsNaming("client-tls-ca", m);
    m.put("client-tls-ca", pem.toString());
    ServerConfig c = ServerConfigLoader.fromMap(m);
    assertTrue(c.security().clientTls().mutual());
    assertTrue(c.security().authRequired(), "mutual TLS means every caller is identified");
  }

  @Test
  void aclRulesParseFromYamlAndFromAnOverride() {
    Map<String, Object> rule = new LinkedHashMap<>();
    rule.put("identity", "agent-*");
    rule.put("prefix", "fleet/");
    rule.put("verbs", List.of("read", "watch"));
    ServerConfig c = ServerConfigLoader.fromMap(with("acl", List.of(rule)));
    assertEquals(1, c.security().acl().size());
    assertEquals("fleet/", c.security().acl().get(0).prefix());

    ServerConfig o = ServerConfigLoader.fromMap(with("acl", "orchestrator:fleet/:lock+write;sre::admin"));
    assertEquals(2, o.security().acl().size());
    assertTrue(o.security().acl().get(1).grants(io.holdfast.server.security.Verb.LOCK));

    Map<String, Object> bad = new LinkedHashMap<>(rule);
    bad.put("verbs", List.of("read", "destroy"));
    assertTrue(failsNaming("acl[0].verbs", with("acl", List.of(bad))).contains("destroy"));
    Map<String, Object> noId = new LinkedHashMap<>(rule);
    noId.remove("identity");
    failsNaming("acl[0].identity", with("acl", List.of(noId)));
    Map<String, Object> typo = new LinkedHashMap<>(rule);
    typo.put("prefixes", "x");
    failsNaming("acl[0]", with("acl", List.of(typo)));
  }

  @Test
  void limitsHaveDefaultsAndBounds() {
    ServerConfig c = ServerConfigLoader.fromMap(valid());
    assertEquals(256, c.limits().maxNameLength());
    assertEquals(4 * 1024 * 1024, c.limits().maxRequestBytes());
    failsNaming("max-name-length", with("max-name-length", 300));
    failsNaming("max-request-bytes", with("max-request-bytes", 1_000));
    failsNaming("max-sessions-per-identity", with("max-sessions-per-identity", -1));
    failsNaming("max-sessions", with("max-sessions", -5));
    assertEquals(1_000_000, c.limits().maxSessions());
    failsNaming("rate-limit-burst", with("rate-limit-burst", 1));
    assertEquals(0, ServerConfigLoader.fromMap(with("max-locks-per-session", 0)).limits().maxLocksPerSession(),
        "0 turns a limit off");
    assertEquals(128L << 20, c.limits().maxKvBytes());
    assertEquals(0, ServerConfigLoader.fromMap(with("max-kv-bytes", 0)).limits().maxKvBytes());
    String m = failsNaming("max-kv-bytes", with("max-kv-bytes", 1_000));
    assertTrue(m.contains("max-value-bytes"), "a store smaller than one value could take nothing: " + m);
    failsNaming("max-kv-bytes", with("max-kv-bytes", -1));
  }

  @Test
  void theRaftLogDirDefaultsToASubdirectoryOfTheDataDirAndCanMoveToItsOwnDisk() {
    assertEquals(Path.of("/var/lib/holdfast/raft"), ServerConfigLoader.fromMap(valid()).raftLogDir());
    assertEquals(Path.of("/ssd/holdfast-log"),
        ServerConfigLoader.fromMap(with("raft-log-dir", "/ssd/holdfast-log")).raftLogDir());
    assertEquals(Path.of("/var/lib/holdfast/restore/seed.snapshot"),
        ServerConfigLoader.fromMap(valid()).restoreSeedFile());
  }

  @Test
  void fastFailoverIsOnByDefaultAndNamesItselfWhenNotABoolean() {
    assertEquals(true, ServerConfigLoader.fromMap(valid()).fastFailover());
    assertEquals(false, ServerConfigLoader.fromMap(with("fast-failover", "false")).fastFailover());
    assertTrue(failsNaming("fast-failover", with("fast-failover", "sometimes")).contains("true or false"));
  }

  @Test
  void joinIsABooleanAndNamesItselfWhenItIsNot() {
    assertEquals(false, ServerConfigLoader.fromMap(valid()).join());
    assertEquals(true, ServerConfigLoader.fromMap(with("join", true)).join());
    assertEquals(true, ServerConfigLoader.fromMap(with("join", "true")).join(), "as an override or env value");
    assertTrue(failsNaming("join", with("join", "yes please")).contains("true or false"));
  }

  @Test
  void aJoiningNodeNeedsOnlyItsOwnEntry() {
    Map<String, Object> m = with("join", true);
    peers(m).remove("n1");
    peers(m).remove("n3");
    ServerConfig c = ServerConfigLoader.fromMap(m);
    assertEquals("n2", c.self().id());
    assertEquals(1, c.peers().size());
  }

  @Test
  void anEmptyLockDelayAFractionAndAnOverflowAreRefusedByName() {
    Map<String, Object> noValue = new java.util.HashMap<>();
    noValue.put("fleet/", null); // YAML "fleet/:" with nothing after it
    assertTrue(failsNaming("lock-delay-defaults.fleet/", with("lock-delay-defaults", noValue))
        .contains("required"));
    assertTrue(failsNaming("max-wait-ms", with("max-wait-ms", 1500.9)).contains("whole number"));
    assertTrue(failsNaming("max-wait-ms", with("max-wait-ms", new java.math.BigInteger("99999999999999999999")))
        .contains("whole number"));
  }

  @Test
  void theStatusPageIsForThisHostOnlyWhereClientsMustAuthenticate(@TempDir Path dir) throws Exception {
    assertEquals(SecurityConfig.StatusPage.OPEN, ServerConfigLoader.fromMap(valid()).security().statusPage());
    Path tokens = Files.writeString(dir.resolve("tokens"), "alice s3cret-s3cret-s3cret\n");
    assertEquals(SecurityConfig.StatusPage.LOCAL,
        ServerConfigLoader.fromMap(with("auth-token-file", tokens.toString())).security().statusPage());
    Map<String, Object> openAnyway = with("auth-token-file", tokens.toString());
    openAnyway.put("admin-status-page", "open");
    assertEquals(SecurityConfig.StatusPage.OPEN, ServerConfigLoader.fromMap(openAnyway).security().statusPage());
    // A bare off in YAML arrives as the boolean false.
    Path file = Files.writeString(dir.resolve("holdfast.yaml"), YAML + "admin-status-page: off\n");
    assertEquals(SecurityConfig.StatusPage.OFF, ServerConfigLoader.load(file, Map.of(), Map.of()).security().statusPage());
    assertTrue(failsNaming("admin-status-page", with("admin-status-page", "loopback")).contains("auto, open, local or off"));
  }

  @Test
  void aLocalStatusPageServesThisHostsAddressesOnly() throws Exception {
    SecurityConfig.StatusPage local = SecurityConfig.StatusPage.LOCAL;
    assertTrue(local.serves(java.net.InetAddress.getByName("127.0.0.1")));
    assertTrue(local.serves(java.net.InetAddress.getByName("::1")));
    // TEST-NET-1: never an address of this host.
    java.net.InetAddress stranger = java.net.InetAddress.getByName("192.0.2.77");
    assertTrue(!local.serves(stranger));
    assertTrue(!local.serves(null));
    assertTrue(SecurityConfig.StatusPage.OPEN.serves(stranger));
    assertTrue(!SecurityConfig.StatusPage.OFF.serves(java.net.InetAddress.getByName("127.0.0.1")));
    // An address of one of this host's interfaces, as an SSH tunnel's end to the admin address has.
    java.util.Optional<java.net.InetAddress> own = java.net.NetworkInterface.networkInterfaces()
        .flatMap(java.net.NetworkInterface::inetAddresses).filter(a -> !a.isLoopbackAddress()).findFirst();
    own.ifPresent(a -> assertTrue(local.serves(a), a.toString()));
  }
}
