package io.holdfast.server.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import io.holdfast.server.security.AccessRule;
import io.holdfast.server.security.Verb;
import io.holdfast.server.state.Names;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * Builds a {@link ServerConfig} from a YAML file, then {@code key=value} overrides (command-line
 * flags), then {@code HOLDFAST_*} environment variables that name a key ({@code HOLDFAST_DATA_DIR}
 * overrides {@code data-dir}). Unknown keys in the file or the flags, and bad values anywhere, stop
 * the node with a message naming the key.
 *
 * <p>YAML because SREs already write etcd's config in it, and the peer list nests naturally:
 *
 * <pre>
 * node-id: n1
 * cluster-id: 9d2b0b0e-5d3c-4b8e-8d55-2b7f1f0c8a11
 * data-dir: /var/lib/holdfast
 * peers:
 *   n1: {peer: 10.0.0.1:7410, client: 10.0.0.1:7400}
 *   n2: {peer: 10.0.0.2:7410, client: 10.0.0.2:7400}
 *   n3: {peer: 10.0.0.3:7410, client: 10.0.0.3:7400}
 * </pre>
 */
public final class ServerConfigLoader {
  /** Every key, with its default ({@code null}: required). */
  /** The cluster id of a config that names none: fine for one cluster, not for two side by side. */
  /** The ceiling of max-request-bytes: max-value-bytes' own (16 MiB) and room for the rest of a put. */
  public static final long MAX_REQUEST_BYTES = 20L << 20;
  /** The ceiling of the session TTL keys. */
  private static final String NODE_ID = "[A-Za-z0-9_-]{1,64}";
  private static final java.util.regex.Pattern PREFIX = java.util.regex.Pattern.compile("[A-Za-z0-9._:/-]*");
  static final long MAX_TTL_MS = 30L * 24 * 3600 * 1000;
  public static final UUID DEFAULT_CLUSTER_ID = UUID.fromString("6f1a2c3e-0b7d-4c59-9a41-1d0e5b7c2f10");

  private static final Map<String, Object> DEFAULTS = new LinkedHashMap<>();

  static {
    DEFAULTS.put("node-id", null);
    DEFAULTS.put("cluster-id", DEFAULT_CLUSTER_ID.toString());
    DEFAULTS.put("peers", null);
    DEFAULTS.put("data-dir", null);
    DEFAULTS.put("session-ttl-min-ms", 2_000L);
    DEFAULTS.put("session-ttl-max-ms", 300_000L);
    DEFAULTS.put("election-timeout-min-ms", 500L);
    DEFAULTS.put("election-timeout-max-ms", 1_000L);
    DEFAULTS.put("fast-failover", true);
    DEFAULTS.put("checkpoint-interval-ms", 1_000L);
    DEFAULTS.put("failover-grace-ms", 0L);
    // As etcd's snapshot-count and ZooKeeper's snapCount. 10,000 meant an 8 MB snapshot every ~12 s
    // at 100,000 sessions, and the keepalives around each one made the p99 (benchmarks.md, W3).
    DEFAULTS.put("snapshot-threshold", 100_000L);
    DEFAULTS.put("batch-max-commands", 256L);
    DEFAULTS.put("batch-in-flight", 1L);
    DEFAULTS.put("batch-linger-us", 2000L);
    DEFAULTS.put("max-wait-ms", 3_600_000L);
    DEFAULTS.put("max-lock-delay-ms", 60_000L);
    DEFAULTS.put("lock-delay-defaults", Map.of());
    DEFAULTS.put("max-value-bytes", 1_048_576L);
    DEFAULTS.put("max-kv-bytes", 134_217_728L);
    DEFAULTS.put("watch-history", 10_000L);
    DEFAULTS.put("admin-address", "");
    DEFAULTS.put("client-listen-address", "");
    // Security: no default for the two modes, so plaintext is always a written choice.
    DEFAULTS.put("client-tls", null);
    DEFAULTS.put("client-tls-cert", "");
    DEFAULTS.put("client-tls-key", "");
    DEFAULTS.put("client-tls-ca", "");
    DEFAULTS.put("peer-tls", null);
    DEFAULTS.put("peer-tls-cert", "");
    DEFAULTS.put("peer-tls-key", "");
    DEFAULTS.put("peer-tls-ca", "");
    DEFAULTS.put("tls-reload-interval-ms", 60_000L);
    DEFAULTS.put("client-cert-connection-max-age-ms", 3_600_000L);
    DEFAULTS.put("auth-token-file", "");
    DEFAULTS.put("cert-identity", "cn");
    DEFAULTS.put("admin-status-page", "auto");
    DEFAULTS.put("acl", List.of());
    // Limits.
    DEFAULTS.put("max-name-length", (long) Names.MAX_LOCK_NAME);
    DEFAULTS.put("max-sessions-per-identity", 1_000L);
    DEFAULTS.put("max-sessions", 1_000_000L);
    DEFAULTS.put("max-locks-per-session", 1_000L);
    DEFAULTS.put("max-waiters-per-lock", 1_000L);
    DEFAULTS.put("max-watches-per-connection", 100L);
    DEFAULTS.put("max-request-bytes", 0L);
    DEFAULTS.put("rate-limit-per-identity", 1_000L);
    DEFAULTS.put("rate-limit-burst", 2_000L);
    DEFAULTS.put("raft-log-dir", "");
    DEFAULTS.put("join", false);
  }

  private ServerConfigLoader() {}

  public static Set<String> keys() {
    return DEFAULTS.keySet();
  }

  /** Loads {@code file} (may be null), then applies overrides and the environment. */
  public static ServerConfig load(Path file, Map<String, String> overrides, Map<String, String> env) {
    Map<String, Object> raw = new LinkedHashMap<>();
    if (file != null) {
      raw.putAll(readYaml(file));
    }
    for (Map.Entry<String, String> e : overrides.entrySet()) {
      raw.put(e.getKey(), e.getValue());
    }
    for (Map.Entry<String, String> e : env.entrySet()) {
      // Only variables that name a config key count: others with the prefix belong to the CLI
      // (HOLDFAST_ENDPOINTS) or the launcher (HOLDFAST_JAVA_OPTS) and must not stop a node.
      if (e.getKey().startsWith("HOLDFAST_")) {
        String key = e.getKey().substring("HOLDFAST_".length()).toLowerCase().replace('_', '-');
        if (DEFAULTS.containsKey(key)) {
          raw.put(key, e.getValue());
        }
      }
    }
    return fromMap(raw);
  }

  static Map<String, Object> readYaml(Path file) {
    try (Reader r = Files.newBufferedReader(file)) {
      // A key given twice is refused, not settled by the last one: an uncommented sample block
      // above "client-tls: plaintext" would otherwise leave the node in plaintext.
      LoaderOptions options = new LoaderOptions();
      options.setAllowDuplicateKeys(false);
      Object doc = new Yaml(new SafeConstructor(options)).load(r);
      if (doc == null) {
        return Map.of();
      }
      if (!(doc instanceof Map<?, ?> m)) {
        throw new ConfigException(file + ": the config file must be a YAML mapping of keys to values");
      }
      Map<String, Object> out = new LinkedHashMap<>();
      m.forEach((k, v) -> out.put(String.valueOf(k), v));
      return out;
    } catch (IOException e) {
      throw new ConfigException("cannot read config file " + file + ": " + e.getMessage());
    } catch (org.yaml.snakeyaml.constructor.DuplicateKeyException e) {
      throw new ConfigException(file + ": " + e.getProblem() + " " + e.getProblemMark().toString().strip()
          + " (each key may be given once)");
    } catch (org.yaml.snakeyaml.error.YAMLException e) {
      throw new ConfigException(file + " is not valid YAML: " + e.getMessage());
    }
  }

  public static ServerConfig fromMap(Map<String, Object> raw) {
    Set<String> unknown = new TreeSet<>(raw.keySet());
    unknown.removeAll(DEFAULTS.keySet());
    if (!unknown.isEmpty()) {
      throw new ConfigException("unknown config key '" + unknown.iterator().next() + "' (known keys: "
          + String.join(", ", DEFAULTS.keySet()) + ")");
    }
    Map<String, Object> v = new LinkedHashMap<>(DEFAULTS);
    v.putAll(raw);

    String nodeId = string(v, "node-id");
    UUID clusterId;
    try {
      clusterId = UUID.fromString(string(v, "cluster-id"));
    } catch (IllegalArgumentException e) {
      throw new ConfigException("cluster-id: '" + v.get("cluster-id") + "' is not a UUID");
    }
    List<PeerConfig> peers = peers(v.get("peers"));
    Path dataDir = Path.of(string(v, "data-dir"));
    // The ceilings keep every sum and product of these below overflow (a wrapped check passed an
    // impossible config; a wrapped deadline expired every session).
    long ttlMin = atMost(positive(v, "session-ttl-min-ms"), "session-ttl-min-ms", MAX_TTL_MS, "30 days");
    long ttlMax = atMost(positive(v, "session-ttl-max-ms"), "session-ttl-max-ms", MAX_TTL_MS, "30 days");
    long eMin = positive(v, "election-timeout-min-ms");
    long eMax = atMost(positive(v, "election-timeout-max-ms"), "election-timeout-max-ms", 60_000, "60 s");
    long checkpoint = positive(v, "checkpoint-interval-ms");
    long grace = atMost(nonNegative(v, "failover-grace-ms"), "failover-grace-ms", ttlMax, "session-ttl-max-ms");
    long snapshot = positive(v, "snapshot-threshold");
    long batchMax = positive(v, "batch-max-commands");
    long batchInFlight = positive(v, "batch-in-flight");
    if (batchMax > 10_000) {
      throw new ConfigException("batch-max-commands (" + batchMax + ") may be at most 10000");
    }
    if (batchInFlight > 64) {
      throw new ConfigException("batch-in-flight (" + batchInFlight + ") may be at most 64");
    }
    long batchLinger = nonNegative(v, "batch-linger-us");
    if (batchLinger > 10_000) {
      throw new ConfigException("batch-linger-us (" + batchLinger + ") may be at most 10000 (10 ms)");
    }
    long maxWait = atMost(positive(v, "max-wait-ms"), "max-wait-ms", MAX_TTL_MS, "30 days");
    long maxLockDelay = atMost(nonNegative(v, "max-lock-delay-ms"), "max-lock-delay-ms", 86_400_000, "1 day");
    java.util.SortedMap<String, Long> delays = lockDelays(v.get("lock-delay-defaults"), maxLockDelay);
    long maxValue = positive(v, "max-value-bytes");
    if (maxValue > 16L * 1024 * 1024) {
      throw new ConfigException("max-value-bytes (" + maxValue + ") may be at most 16 MiB: the store is for "
          + "config-sized values, and every value is replicated through the Raft log");
    }

    if (!nodeId.matches(NODE_ID)) {
      throw new ConfigException("node-id: '" + nodeId + "' must be 1-64 letters, digits, '_' or '-'");
    }
    if (peers.stream().noneMatch(p -> p.id().equals(nodeId))) {
      throw new ConfigException("node-id: '" + nodeId + "' is not one of the peers " + ids(peers));
    }
    if (ttlMin > ttlMax) {
      throw new ConfigException("session-ttl-min-ms (" + ttlMin + ") cannot be larger than session-ttl-max-ms ("
          + ttlMax + ")");
    }
    if (eMin >= eMax) {
      throw new ConfigException("election-timeout-min-ms (" + eMin + ") must be smaller than "
          + "election-timeout-max-ms (" + eMax + ")");
    }
    if (eMin < 50) {
      throw new ConfigException("election-timeout-min-ms (" + eMin + ") must be at least 50");
    }
    if (ttlMin < 2 * eMax) {
      throw new ConfigException("session-ttl-min-ms (" + ttlMin + ") must be at least twice "
          + "election-timeout-max-ms (" + eMax + "), or a single election could expire every session");
    }
    if (checkpoint > ttlMin / 2) {
      throw new ConfigException("checkpoint-interval-ms (" + checkpoint + ") must be at most half of "
          + "session-ttl-min-ms (" + ttlMin + ")");
    }
    String logDir = v.get("raft-log-dir") == null ? "" : String.valueOf(v.get("raft-log-dir")).trim();
    Path raftLogDir = logDir.isEmpty() ? dataDir.resolve("raft") : Path.of(logDir);
    boolean join = bool(v, "join");
    HostPort admin = String.valueOf(v.get("admin-address")).isBlank() ? null
        : HostPort.parse("admin-address", String.valueOf(v.get("admin-address")));
    PeerConfig self = null;
    for (PeerConfig p : peers) {
      if (p.id().equals(nodeId)) {
        self = p;
      }
    }
    // Where the client port binds: its peers entry unless client-listen-address says otherwise
    // (the peers entry is then only what clients are told).
    boolean listenSet = !String.valueOf(v.get("client-listen-address")).isBlank();
    HostPort listen = listenSet
        ? HostPort.parse("client-listen-address", String.valueOf(v.get("client-listen-address")))
        : self.clientAddress();
    String listenKey = listenSet ? "client-listen-address" : "client address (peers." + nodeId + ")";
    if (sameSocket(listen, self.peerAddress())) {
      throw new ConfigException((listenSet ? "client-listen-address: " + listen : "peers." + nodeId + ": the client "
          + "address " + listen) + " is also this node's peer address (peers." + nodeId + ")");
    }
    if (admin != null) {
      if (sameSocket(admin, self.peerAddress())) {
        throw new ConfigException("admin-address: " + admin + " is also this node's peer address (peers." + nodeId + ")");
      }
      if (sameSocket(admin, listen)) {
        throw new ConfigException("admin-address: " + admin + " is also this node's " + listenKey);
      }
    }
    return new ServerConfig(nodeId, clusterId, peers, dataDir, ttlMin, ttlMax, eMin, eMax, checkpoint, grace,
        snapshot, maxWait, maxLockDelay, delays, maxValue, (int) atMost(positive(v, "watch-history"), "watch-history",
        1_000_000, "1000000 events"),
        admin,
        security(v), limits(v, maxValue), raftLogDir, join, (int) batchMax, (int) batchInFlight,
        batchLinger, bool(v, "fast-failover"), listen);
  }

  /** Two listeners on one port of this machine: the same host, or a wildcard on either side. */
  private static boolean sameSocket(HostPort a, HostPort b) {
    if (a.port() != b.port()) {
      return false;
    }
    Set<String> wildcards = Set.of("0.0.0.0", "::", "[::]", "*", "");
    return a.host().equalsIgnoreCase(b.host()) || wildcards.contains(a.host()) || wildcards.contains(b.host());
  }

  private static SecurityConfig security(Map<String, Object> v) {
    long reload = positive(v, "tls-reload-interval-ms");
    TlsSettings client = tls(v, "client-tls", reload, true);
    TlsSettings peer = tls(v, "peer-tls", reload, false);
    String tokenFile = String.valueOf(v.get("auth-token-file")).trim();
    Path tokens = tokenFile.isEmpty() ? null : existingFile("auth-token-file", tokenFile);
    SecurityConfig.CertIdentity certIdentity;
    switch (string(v, "cert-identity").toLowerCase(java.util.Locale.ROOT)) {
      case "cn":
        certIdentity = SecurityConfig.CertIdentity.CN;
        break;
      case "san":
        certIdentity = SecurityConfig.CertIdentity.SAN;
        break;
      default:
        throw new ConfigException("cert-identity: '" + v.get("cert-identity") + "' must be cn or san");
    }
    long certAge = nonNegative(v, "client-cert-connection-max-age-ms");
    if (certAge > 0 && certAge < 10_000) {
      throw new ConfigException("client-cert-connection-max-age-ms (" + certAge + ") must be 0 (never) or at least "
          + "10000: every client reconnects that often");
    }
    boolean authRequired = client.mutual() || tokens != null;
    SecurityConfig.StatusPage page;
    switch (string(v, "admin-status-page").toLowerCase(java.util.Locale.ROOT)) {
      case "auto":
        // Where the client port asks every caller who it is, the page must not tell strangers what it hides.
        page = authRequired ? SecurityConfig.StatusPage.LOCAL : SecurityConfig.StatusPage.OPEN;
        break;
      case "open":
        page = SecurityConfig.StatusPage.OPEN;
        break;
      case "local":
        page = SecurityConfig.StatusPage.LOCAL;
        break;
      case "off":
      case "false": // YAML reads a bare off as the boolean false
        page = SecurityConfig.StatusPage.OFF;
        break;
      default:
        throw new ConfigException("admin-status-page: '" + v.get("admin-status-page")
            + "' must be auto, open, local or off");
    }
    return new SecurityConfig(client, peer, tokens, certIdentity, acl(v.get("acl")), certAge, page);
  }

  private static TlsSettings tls(Map<String, Object> v, String key, long reload, boolean oneWayAllowed) {
    Object raw = v.get(key);
    if (raw == null || String.valueOf(raw).isBlank()) {
      throw new ConfigException(key + ": required (plaintext, tls or mtls); plaintext must be chosen explicitly");
    }
    TlsSettings.Mode mode;
    try {
      mode = TlsSettings.Mode.valueOf(String.valueOf(raw).trim().toUpperCase(java.util.Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new ConfigException(key + ": '" + raw + "' must be plaintext, tls or mtls");
    }
    if (mode == TlsSettings.Mode.TLS && !oneWayAllowed) {
      // Every node is both client and server of the others: one-way TLS would let anyone who
      // reaches the peer port cast votes and append entries.
      throw new ConfigException(key + ": 'tls' is not allowed for peer traffic; use mtls (or plaintext)");
    }
    if (mode == TlsSettings.Mode.PLAINTEXT) {
      return new TlsSettings(mode, null, null, null, reload);
    }
    Path cert = existingFile(key + "-cert", string(v, key + "-cert"));
    Path pk = existingFile(key + "-key", string(v, key + "-key"));
    String ca = String.valueOf(v.get(key + "-ca")).trim();
    if (ca.isEmpty() && mode == TlsSettings.Mode.MTLS) {
      throw new ConfigException(key + "-ca: required when " + key + " is mtls (the CA that signs the other side)");
    }
    return new TlsSettings(mode, cert, pk, ca.isEmpty() ? null : existingFile(key + "-ca", ca), reload);
  }

  private static Path existingFile(String key, String value) {
    Path p = Path.of(value);
    if (!Files.isReadable(p) || !Files.isRegularFile(p)) {
      throw new ConfigException(key + ": '" + value + "' is not a readable file");
    }
    return p;
  }

  /** A YAML list of {identity, prefix, verbs}, or identity:prefix:verb+verb;... as an override. */
  private static List<AccessRule> acl(Object value) {
    List<Map<String, Object>> raw = new ArrayList<>();
    if (value instanceof List<?> list) {
      for (int i = 0; i < list.size(); i++) {
        if (!(list.get(i) instanceof Map<?, ?> m)) {
          throw new ConfigException("acl[" + i + "]: must be {identity: pattern, prefix: name-prefix, verbs: [...]}");
        }
        Map<String, Object> rule = new LinkedHashMap<>();
        m.forEach((k, x) -> rule.put(String.valueOf(k), x));
        raw.add(rule);
      }
    } else if (value != null && !String.valueOf(value).isBlank()) {
      for (String part : String.valueOf(value).split(";")) {
        String[] f = part.trim().split(":", 3);
        if (f.length != 3) {
          throw new ConfigException("acl: '" + part + "' is not identity:prefix:verb+verb");
        }
        raw.add(Map.of("identity", f[0], "prefix", f[1], "verbs", List.of(f[2].split("\\+"))));
      }
    }
    List<AccessRule> rules = new ArrayList<>();
    for (int i = 0; i < raw.size(); i++) {
      Map<String, Object> r = raw.get(i);
      String at = "acl[" + i + "]";
      for (String k : r.keySet()) {
        if (!Set.of("identity", "prefix", "verbs").contains(k)) {
          throw new ConfigException(at + ": unknown key '" + k + "' (known: identity, prefix, verbs)");
        }
      }
      Object id = r.get("identity");
      if (id == null || String.valueOf(id).isBlank()) {
        throw new ConfigException(at + ".identity: required (a name, or a pattern with *)");
      }
      String prefix = r.get("prefix") == null ? "" : String.valueOf(r.get("prefix"));
      if (prefix.length() > Names.MAX_LOCK_NAME) {
        throw new ConfigException(at + ".prefix: longer than the longest name (" + Names.MAX_LOCK_NAME + ")");
      }
      checkPrefix(at + ".prefix", prefix);
      Object vs = r.get("verbs");
      List<?> verbList = vs instanceof List<?> l ? l : vs == null ? List.of() : List.of(String.valueOf(vs).split(","));
      Set<Verb> verbs = new java.util.TreeSet<>();
      for (Object o : verbList) {
        Verb verb = Verb.parse(String.valueOf(o));
        if (verb == null) {
          throw new ConfigException(at + ".verbs: '" + o + "' is not one of lock, read, write, watch, admin");
        }
        verbs.add(verb);
      }
      if (verbs.isEmpty()) {
        throw new ConfigException(at + ".verbs: required (lock, read, write, watch, admin)");
      }
      rules.add(new AccessRule(String.valueOf(id).trim(), prefix, verbs));
    }
    return rules;
  }

  private static Limits limits(Map<String, Object> v, long maxValue) {
    long name = positive(v, "max-name-length");
    if (name > Names.MAX_LOCK_NAME) {
      throw new ConfigException("max-name-length (" + name + ") may be at most " + Names.MAX_LOCK_NAME);
    }
    long request = nonNegative(v, "max-request-bytes");
    long needed = maxValue + 64 * 1024;
    if (request == 0) {
      request = Math.max(4L * 1024 * 1024, needed);
    } else if (request < needed) {
      throw new ConfigException("max-request-bytes (" + request + ") must leave room for max-value-bytes ("
          + maxValue + ") plus 64 KiB");
    } else if (request > MAX_REQUEST_BYTES) {
      throw new ConfigException("max-request-bytes (" + request + ") may be at most " + MAX_REQUEST_BYTES
          + " (20 MiB): every member's Raft log is sized for the largest request any member may take");
    }
    long rate = nonNegative(v, "rate-limit-per-identity");
    long burst = positive(v, "rate-limit-burst");
    if (rate > 0 && burst < rate / 10) {
      throw new ConfigException("rate-limit-burst (" + burst + ") must be at least a tenth of "
          + "rate-limit-per-identity (" + rate + ")");
    }
    long kvBytes = nonNegative(v, "max-kv-bytes");
    if (kvBytes > 0 && kvBytes < maxValue) {
      throw new ConfigException("max-kv-bytes (" + kvBytes + ") must be 0 (no limit) or at least max-value-bytes ("
          + maxValue + ")");
    }
    return new Limits((int) name, nonNegative(v, "max-sessions-per-identity"), nonNegative(v, "max-locks-per-session"),
        nonNegative(v, "max-waiters-per-lock"), (int) atMost(nonNegative(v,
            "max-watches-per-connection"), "max-watches-per-connection", 100_000, "100000"), (int) request, rate, burst, kvBytes,
        nonNegative(v, "max-sessions"));
  }

  /** {@code {prefix: ms}} in YAML, or {@code prefix=ms,prefix=ms} as an override. */
  private static java.util.SortedMap<String, Long> lockDelays(Object value, long max) {
    Map<String, Object> raw = new LinkedHashMap<>();
    if (value instanceof Map<?, ?> m) {
      m.forEach((k, v) -> raw.put(String.valueOf(k), v));
    } else if (value != null && !String.valueOf(value).isBlank()) {
      for (String part : String.valueOf(value).split(",")) {
        String[] kv = part.trim().split("=", 2);
        if (kv.length != 2) {
          throw new ConfigException("lock-delay-defaults: '" + part + "' is not prefix=milliseconds");
        }
        if (raw.put(kv[0].trim(), kv[1].trim()) != null) {
          throw new ConfigException("lock-delay-defaults." + kv[0].trim() + ": given twice");
        }
      }
    }
    java.util.SortedMap<String, Long> out = new java.util.TreeMap<>();
    for (Map.Entry<String, Object> e : raw.entrySet()) {
      checkPrefix("lock-delay-defaults." + e.getKey(), e.getKey());
      if (e.getValue() == null) {
        throw new ConfigException("lock-delay-defaults." + e.getKey() + ": a value in milliseconds is required");
      }
      long ms = nonNegative(Map.of("lock-delay-defaults." + e.getKey(), e.getValue()),
          "lock-delay-defaults." + e.getKey());
      if (ms > max) {
        throw new ConfigException("lock-delay-defaults." + e.getKey() + " (" + ms + ") exceeds max-lock-delay-ms ("
            + max + ")");
      }
      out.put(e.getKey(), ms);
    }
    return out;
  }

  private static List<PeerConfig> peers(Object value) {
    if (value == null) {
      throw new ConfigException("peers: required (a mapping of node id to {peer: host:port, client: host:port})");
    }
    Map<String, Object> byId = new LinkedHashMap<>();
    if (value instanceof Map<?, ?> m) {
      m.forEach((k, v) -> byId.put(String.valueOf(k), v));
    } else {
      // Override form: n1=peerhost:port/clienthost:port,n2=...
      for (String part : String.valueOf(value).split(",")) {
        String[] kv = part.trim().split("=", 2);
        String[] addrs = kv.length == 2 ? kv[1].split("/", 2) : new String[0];
        if (addrs.length != 2) {
          throw new ConfigException("peers: '" + part + "' is not id=peerhost:port/clienthost:port");
        }
        if (byId.put(kv[0].trim(), Map.of("peer", addrs[0], "client", addrs[1])) != null) {
          throw new ConfigException("peers." + kv[0].trim() + ": given twice");
        }
      }
    }
    List<PeerConfig> out = new ArrayList<>();
    Set<String> addresses = new HashSet<>();
    for (Map.Entry<String, Object> e : byId.entrySet()) {
      String key = "peers." + e.getKey();
      if (!e.getKey().matches(NODE_ID)) {
        // Every member must be able to start under its id, and the admin API to name it.
        throw new ConfigException(key + ": a node id must be 1-64 letters, digits, '_' or '-'");
      }
      if (!(e.getValue() instanceof Map<?, ?> pm)) {
        throw new ConfigException(key + ": must be {peer: host:port, client: host:port}");
      }
      for (Object k : pm.keySet()) {
        if (!"peer".equals(k) && !"client".equals(k)) {
          throw new ConfigException(key + ": unknown key '" + k + "' (known: peer, client)");
        }
      }
      HostPort peer = HostPort.parse(key + ".peer", pm.get("peer") == null ? null : String.valueOf(pm.get("peer")));
      HostPort client = HostPort.parse(key + ".client",
          pm.get("client") == null ? null : String.valueOf(pm.get("client")));
      for (HostPort hp : List.of(peer, client)) {
        if (!addresses.add(hp.toString())) {
          throw new ConfigException(key + ": address " + hp + " is used twice");
        }
      }
      out.add(new PeerConfig(e.getKey(), peer, client));
    }
    if (out.isEmpty()) {
      throw new ConfigException("peers: at least one peer is required");
    }
    return out;
  }

  private static String ids(List<PeerConfig> peers) {
    List<String> ids = new ArrayList<>();
    peers.forEach(p -> ids.add(p.id()));
    return ids.toString();
  }

  private static String string(Map<String, Object> v, String key) {
    Object o = v.get(key);
    if (o == null || String.valueOf(o).isBlank()) {
      throw new ConfigException(key + ": required");
    }
    return String.valueOf(o).trim();
  }

  private static boolean bool(Map<String, Object> v, String key) {
    Object o = v.get(key);
    if (o instanceof Boolean b) {
      return b;
    }
    String s = String.valueOf(o).trim();
    if (s.equals("true") || s.equals("false")) {
      return Boolean.parseBoolean(s);
    }
    throw new ConfigException(key + ": '" + o + "' is not true or false");
  }

  private static long number(Map<String, Object> v, String key) {
    Object o = v.get(key);
    if (o instanceof Integer || o instanceof Long || o instanceof Short || o instanceof Byte) {
      return ((Number) o).longValue();
    }
    // A fraction (1500.9) or a number past a long's range is refused, not truncated or wrapped.
    try {
      return Long.parseLong(String.valueOf(o).trim());
    } catch (NumberFormatException e) {
      throw new ConfigException(key + ": '" + o + "' is not a whole number");
    }
  }

  private static long positive(Map<String, Object> v, String key) {
    long n = number(v, key);
    if (n <= 0) {
      throw new ConfigException(key + ": must be positive, got " + n);
    }
    return n;
  }

  /** A name prefix is literal (no wildcards) and made of a name's characters, or it matches nothing. */
  private static void checkPrefix(String key, String prefix) {
    if (!PREFIX.matcher(prefix).matches()) {
      throw new ConfigException(key + ": '" + prefix + "' is not a name prefix: names are letters, digits and"
          + " . _ : / - only, and a prefix is literal (fleet/ covers fleet/a; no wildcards)");
    }
  }

  private static long atMost(long n, String key, long max, String maxSaid) {
    if (n > max) {
      throw new ConfigException(key + ": " + n + " is more than the most allowed, " + max + " (" + maxSaid + ")");
    }
    return n;
  }

  private static long nonNegative(Map<String, Object> v, String key) {
    long n = number(v, key);
    if (n < 0) {
      throw new ConfigException(key + ": must not be negative, got " + n);
    }
    return n;
  }
}
