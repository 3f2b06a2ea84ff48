package io.holdfast.chaos;

import io.holdfast.server.testing.ProcessCluster;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * One network namespace per node, each joined by a veth pair to a bridge in the root namespace,
 * on a private /24. The harness and the workers stay in the root namespace and reach every node
 * through the bridge; a {@link Partition} becomes DROP rules inside the nodes' namespaces, in both
 * directions, so open connections stall as on a real cut instead of failing fast.
 *
 * <p>Every name is {@code hf<owner pid in base 36>-<role>}: leftovers of a run that was killed are
 * found by that prefix and removed once their owner process is gone ({@link #removeLeftovers}).
 */
public final class NetnsNetwork implements AutoCloseable {
  private static final Pattern NAME = Pattern.compile("hf([0-9a-z]{1,7})-(n\\d+|v\\d+|p\\d+|br)");
  private static final String TABLE = "hfchaos";

  private final String id;
  private final int nodes;
  private final int subnet;
  private final boolean nft;
  private final Set<Integer> cutNodes = new TreeSet<>();
  private final Thread cleanupHook = new Thread(this::removeAll, "netns-cleanup");

  private NetnsNetwork(int nodes) {
    long pid = ProcessHandle.current().pid();
    this.id = Long.toString(pid, 36);
    this.nodes = nodes;
    // Concurrent runs (different owners) get different subnets as long as their pids differ mod 200.
    this.subnet = (int) (pid % 200) + 20;
    this.nft = Commands.onPath("nft");
  }

  /** Why namespaces cannot be used here, or empty when they can be tried. */
  public static Optional<String> unavailableReason() {
    if ("off".equalsIgnoreCase(System.getProperty("chaos.netns", "").trim())) {
      return Optional.of("-Dchaos.netns=off");
    }
    if (!Commands.onPath("ip")) {
      return Optional.of("no `ip` (iproute2) on the PATH");
    }
    if (!Commands.onPath("nft") && !Commands.onPath("iptables")) {
      return Optional.of("neither `nft` nor `iptables` on the PATH");
    }
    Commands.Result uid = Commands.run("id", "-u");
    if (!uid.ok() || !uid.output().trim().equals("0")) {
      return Optional.of("not root (network namespaces need root)");
    }
    return Optional.empty();
  }

  /** Builds the topology for {@code nodes} nodes; on any failure removes what it made and throws. */
  public static NetnsNetwork open(int nodes) {
    removeLeftovers().forEach(note -> System.out.println("netns: " + note));
    NetnsNetwork net = new NetnsNetwork(nodes);
    Runtime.getRuntime().addShutdownHook(net.cleanupHook);
    try {
      net.create();
      return net;
    } catch (RuntimeException e) {
      net.close();
      throw e;
    }
  }

  private void create() {
    String br = bridge();
    Commands.run("ip", "link", "add", br, "type", "bridge").orThrow();
    Commands.run("ip", "addr", "add", gateway() + "/24", "dev", br).orThrow();
    Commands.run("ip", "link", "set", br, "up").orThrow();
    for (int k = 0; k < nodes; k++) {
      String ns = namespace(k);
      String inner = name("p" + (k + 1));
      Commands.run("ip", "netns", "add", ns).orThrow();
      Commands.run("ip", "link", "add", veth(k), "type", "veth", "peer", "name", inner).orThrow();
      Commands.run("ip", "link", "set", veth(k), "master", br, "up").orThrow();
      Commands.run("ip", "link", "set", inner, "netns", ns).orThrow();
      Commands.run("ip", "-n", ns, "link", "set", inner, "name", "eth0").orThrow();
      Commands.run("ip", "-n", ns, "addr", "add", address(k) + "/24", "dev", "eth0").orThrow();
      Commands.run("ip", "-n", ns, "link", "set", "eth0", "up").orThrow();
      Commands.run("ip", "-n", ns, "link", "set", "lo", "up").orThrow();
    }
  }

  private String name(String role) {
    return "hf" + id + "-" + role;
  }

  public String namespace(int k) {
    return name("n" + (k + 1));
  }

  String bridge() {
    return name("br");
  }

  private String veth(int k) {
    return name("v" + (k + 1));
  }

  /** The bridge's address in the root namespace: where the harness and workers come from. */
  public String gateway() {
    return "10.231." + subnet + ".1";
  }

  /** Node {@code k}'s address inside its namespace. */
  public String address(int k) {
    return "10.231." + subnet + "." + (11 + k);
  }

  /** Run a node's JVM in its namespace: {@code ip netns exec} execs the command, so the pid is the JVM's. */
  public List<String> launchPrefix(int k) {
    return List.of("ip", "netns", "exec", namespace(k));
  }

  public String firewall() {
    return nft ? "nftables" : "iptables";
  }

  /**
   * For a test that needs namespaces: skips it, saying why, where they cannot be made (the
   * randomized run falls back to loopback instead; a focused test has nothing to test there).
   */
  public static void assumeAvailable(String test) {
    Optional<String> why = unavailableReason();
    if (why.isPresent()) {
      System.out.println(test + " skipped: " + why.get());
    }
    org.junit.jupiter.api.Assumptions.assumeTrue(why.isEmpty(), () -> "network namespaces unavailable: " + why.get());
  }

  /** Puts each node of {@code cluster} in its namespace (before it starts). */
  public ProcessCluster place(ProcessCluster cluster) {
    for (int i = 0; i < cluster.capacity(); i++) {
      cluster.host(i, address(i)).launchPrefix(i, launchPrefix(i));
    }
    return cluster;
  }

  /** Replaces the current partition (if any) with {@code p}. */
  public synchronized void apply(Partition p) {
    heal();
    for (int k : p.nodes()) {
      List<String> from = addresses(p.dropFrom().getOrDefault(k, Set.of()));
      List<String> to = addresses(p.dropTo().getOrDefault(k, Set.of()));
      cutNodes.add(k);
      if (nft) {
        String chance = p.lossPercent() < 100 ? " numgen random mod 100 < " + p.lossPercent() : "";
        StringBuilder script = new StringBuilder("table inet " + TABLE + " {\n");
        if (!from.isEmpty()) {
          script.append("  chain input { type filter hook input priority 0; policy accept; ip saddr { ")
              .append(String.join(", ", from)).append(" }").append(chance).append(" drop; }\n");
        }
        if (!to.isEmpty()) {
          script.append("  chain output { type filter hook output priority 0; policy accept; ip daddr { ")
              .append(String.join(", ", to)).append(" }").append(chance).append(" drop; }\n");
        }
        script.append("}\n");
        Commands.run(script.toString(), Map.of(), List.of("ip", "netns", "exec", namespace(k), "nft", "-f", "-"))
            .orThrow();
      } else {
        List<String> chance = p.lossPercent() < 100
            ? List.of("-m", "statistic", "--mode", "random", "--probability", String.valueOf(p.lossPercent() / 100.0))
            : List.of();
        for (String peer : from) {
          iptables(k, "INPUT", "-s", peer, chance);
        }
        for (String peer : to) {
          iptables(k, "OUTPUT", "-d", peer, chance);
        }
      }
    }
  }

  /**
   * Node {@code node}'s firewall rejects TCP from node {@code from} with a reset: {@code from}'s
   * connections to it are reset at once and its connects are refused, which is what a dead process
   * looks like from {@code from}; nothing else changes. Replaces the current partition;
   * {@link #heal} ends it.
   */
  public synchronized void rejectInto(int node, int from) {
    heal();
    rejectOneInto(node, from);
  }

  /**
   * Every node in {@code nodes} rejects TCP from node {@code from}, as {@link #rejectInto}: to
   * {@code from}, all of them look dead, while they still reach each other. Replaces the current
   * partition.
   */
  public synchronized void rejectedByAll(int from, int... nodes) {
    heal();
    for (int node : nodes) {
      rejectOneInto(node, from);
    }
  }

  private void rejectOneInto(int node, int from) {
    String peer = address(from);
    cutNodes.add(node);
    if (nft) {
      String script = "table inet " + TABLE + " {\n"
          + "  chain input { type filter hook input priority 0; policy accept; ip saddr " + peer
          + " meta l4proto tcp reject with tcp reset; }\n}\n";
      Commands.run(script, Map.of(), List.of("ip", "netns", "exec", namespace(node), "nft", "-f", "-")).orThrow();
    } else {
      Commands.run(null, Map.of(), List.of("ip", "netns", "exec", namespace(node), "iptables", "-w", "-A", "INPUT",
          "-s", peer, "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset")).orThrow();
    }
  }

  private List<String> addresses(Set<Integer> nodes) {
    return nodes.stream().sorted().map(this::address).toList();
  }

  private void iptables(int k, String chain, String side, String peer, List<String> chance) {
    List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", namespace(k), "iptables", "-w", "-A", chain,
        side, peer));
    cmd.addAll(chance);
    cmd.addAll(List.of("-j", "DROP"));
    Commands.run(null, Map.of(), cmd).orThrow();
  }

  /** Removes every partition rule. */
  public synchronized void heal() {
    for (int k : cutNodes) {
      if (nft) {
        Commands.run("ip", "netns", "exec", namespace(k), "nft", "delete", "table", "inet", TABLE).orThrow();
      } else {
        Commands.run("ip", "netns", "exec", namespace(k), "iptables", "-w", "-F", "INPUT").orThrow();
        Commands.run("ip", "netns", "exec", namespace(k), "iptables", "-w", "-F", "OUTPUT").orThrow();
      }
    }
    cutNodes.clear();
  }

  /** Whether a TCP connect from inside node {@code from}'s namespace to {@code host:port} succeeds within 2 s. */
  public boolean canConnect(int from, String host, int port) {
    return Commands.run(null, Map.of(), List.of("ip", "netns", "exec", namespace(from), "timeout", "2", "bash", "-c",
        "exec 3<>/dev/tcp/" + host + "/" + port)).ok();
  }

  /** Every node's namespace reaches the bridge address (a listener the harness opens there for a moment). */
  public void checkReachable() {
    try (ServerSocket s = new ServerSocket()) {
      s.bind(new InetSocketAddress(gateway(), 0));
      Thread acceptor = new Thread(() -> {
        try {
          while (true) {
            s.accept().close();
          }
        } catch (IOException closed) {
          // done
        }
      }, "netns-check");
      acceptor.setDaemon(true);
      acceptor.start();
      for (int k = 0; k < nodes; k++) {
        if (!canConnect(k, gateway(), s.getLocalPort())) {
          throw new IllegalStateException(namespace(k) + " cannot reach " + gateway() + " over the bridge");
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot listen on " + gateway() + ": " + e, e);
    }
  }

  /** Names of this run's namespaces and links that still exist (for tests of the cleanup). */
  public Set<String> existingNames() {
    Set<String> mine = new TreeSet<>();
    for (String n : listNames()) {
      if (n.startsWith("hf" + id + "-")) {
        mine.add(n);
      }
    }
    return mine;
  }

  @Override
  public void close() {
    removeAll();
    try {
      Runtime.getRuntime().removeShutdownHook(cleanupHook);
    } catch (IllegalStateException shuttingDown) {
      // the hook is running or ran: nothing to remove
    }
  }

  private synchronized void removeAll() {
    cutNodes.clear();
    for (int k = 0; k < nodes; k++) {
      Commands.run("ip", "link", "del", veth(k));
      Commands.run("ip", "netns", "del", namespace(k));
    }
    Commands.run("ip", "link", "del", bridge());
  }

  /**
   * Removes namespaces, veths and bridges named like ours whose owner process is gone (or is this
   * process, which has not built anything yet). Processes still inside such a namespace are not
   * ours to kill: they are reported.
   */
  public static List<String> removeLeftovers() {
    long self = ProcessHandle.current().pid();
    List<String> notes = new ArrayList<>();
    for (String n : listNames()) {
      Matcher m = NAME.matcher(n);
      if (!m.matches()) {
        continue;
      }
      long owner = Long.parseLong(m.group(1), 36);
      if (owner != self && ProcessHandle.of(owner).map(ProcessHandle::isAlive).orElse(false)) {
        continue; // a live run's
      }
      if (m.group(2).startsWith("n")) {
        String pids = Commands.run("ip", "netns", "pids", n).output().trim().replace('\n', ' ');
        Commands.run("ip", "netns", "del", n);
        notes.add("removed leftover namespace " + n + (pids.isEmpty() ? "" : " (processes still in it, not killed: "
            + pids + ")"));
      } else {
        if (Commands.run("ip", "link", "del", n).ok()) { // a veth may have gone with its namespace
          notes.add("removed leftover link " + n);
        }
      }
    }
    return notes;
  }

  /** Namespace names, then link names (bridges first, so their ports go with them). */
  private static Set<String> listNames() {
    Set<String> names = new LinkedHashSet<>();
    for (String line : Commands.run("ip", "netns", "list").output().split("\n")) {
      if (!line.isBlank()) {
        names.add(line.trim().split("\\s+")[0]);
      }
    }
    List<String> links = new ArrayList<>();
    for (String line : Commands.run("ip", "-o", "link", "show").output().split("\n")) {
      String[] parts = line.split(":\\s+", 3);
      if (parts.length >= 2) {
        links.add(parts[1].split("@")[0]);
      }
    }
    links.stream().filter(l -> l.endsWith("-br")).forEach(names::add);
    links.stream().filter(l -> !l.endsWith("-br")).forEach(names::add);
    return names;
  }

  @Override
  public String toString() {
    return "netns " + name("n*") + " on " + gateway().replaceFirst("\\.1$", ".0") + "/24, partitions by " + firewall()
        + ", nodes " + java.util.stream.IntStream.range(0, nodes).mapToObj(this::address)
            .collect(Collectors.joining(" "));
  }
}
