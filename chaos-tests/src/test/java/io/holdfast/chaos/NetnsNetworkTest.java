package io.holdfast.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The namespace plumbing on its own: nodes reach each other and the harness over the bridge, a
 * partition cuts node-to-node traffic (not the harness's), heal restores it, close removes
 * everything, and leftovers of a dead owner are found by name. Skips, saying why, where namespaces
 * cannot be made (not root, no iproute2, -Dchaos.netns=off).
 */
class NetnsNetworkTest {
  /** A listener run inside a namespace: prints its port, accepts until killed. */
  public static void main(String[] args) throws Exception {
    try (ServerSocket s = new ServerSocket()) {
      s.bind(new InetSocketAddress(InetAddress.getByName(args[0]), 0));
      System.out.println(s.getLocalPort());
      System.out.flush();
      while (true) {
        s.accept().close();
      }
    }
  }

  private static void assumeNamespaces() {
    Optional<String> why = NetnsNetwork.unavailableReason();
    if (why.isPresent()) {
      System.out.println("NetnsNetworkTest skipped: " + why.get());
    }
    Assumptions.assumeTrue(why.isEmpty(), () -> "network namespaces unavailable: " + why.get());
  }

  @Test
  void partitionsCutNodesButNotTheHarnessAndHeal() throws Exception {
    assumeNamespaces();
    List<String> names;
    try (NetnsNetwork net = NetnsNetwork.open(3)) {
      names = new ArrayList<>(net.existingNames());
      assertTrue(names.contains(net.namespace(0)) && names.contains(net.bridge()), names.toString());
      net.checkReachable();
      String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
      List<String> cmd = new ArrayList<>(net.launchPrefix(0));
      cmd.addAll(List.of(java, "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
          NetnsNetworkTest.class.getName(), net.address(0)));
      Process listener = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
      try {
        int port = Integer.parseInt(new BufferedReader(new InputStreamReader(listener.getInputStream(),
            StandardCharsets.UTF_8)).readLine().trim());
        // ip netns exec execs: the pid we hold is the JVM's, in another network namespace.
        assertNotEquals(Files.readSymbolicLink(Path.of("/proc/self/ns/net")),
            Files.readSymbolicLink(Path.of("/proc/" + listener.pid() + "/ns/net")));
        assertTrue(net.canConnect(1, net.address(0), port), "n2 -> n1 before the cut");
        assertTrue(harnessConnects(net.address(0), port), "harness -> n1 before the cut");

        net.apply(Partition.isolate(0, 3));
        assertFalse(net.canConnect(1, net.address(0), port), "n2 -> n1 during the cut");
        assertFalse(net.canConnect(2, net.address(0), port), "n3 -> n1 during the cut");
        assertTrue(harnessConnects(net.address(0), port), "clients are not cut off");

        net.apply(Partition.bridge(0, 3)); // n1 bridges: n2 and n3 reach it again
        assertTrue(net.canConnect(1, net.address(0), port), "n2 -> bridge n1");

        net.apply(Partition.deaf(1, 3)); // n2 hears nobody: its handshakes fail both ways, n3 -> n1 works
        assertFalse(net.canConnect(1, net.address(0), port), "deaf n2 -> n1 (the reply is dropped)");
        assertTrue(net.canConnect(2, net.address(0), port), "n3 -> n1 while n2 is deaf");

        net.apply(Partition.lossy(100, 3)); // the random-drop rule path; 100 % so that the outcome is certain
        assertFalse(net.canConnect(1, net.address(0), port), "n2 -> n1 with every packet lost");
        assertTrue(harnessConnects(net.address(0), port), "clients keep their links under loss");

        net.heal();
        assertTrue(net.canConnect(2, net.address(0), port), "n3 -> n1 after heal");
      } finally {
        listener.destroyForcibly().waitFor();
      }
      names = new ArrayList<>(net.existingNames());
    }
    try (NetnsNetwork again = NetnsNetwork.open(1)) {
      // Same owner pid, so the same names: all of them were removed by the first close.
      assertEquals(List.of(again.bridge(), again.namespace(0), "hf" + Long.toString(ProcessHandle.current().pid(), 36)
          + "-v1").stream().sorted().toList(), again.existingNames().stream().sorted().toList());
      assertTrue(names.size() >= 7, names.toString()); // bridge, 3 namespaces, 3 veths
    }
  }

  @Test
  void leftoversOfADeadOwnerAreRemoved() throws Exception {
    assumeNamespaces();
    Process gone = new ProcessBuilder("true").start();
    gone.waitFor();
    String name = "hf" + Long.toString(gone.pid(), 36) + "-n1";
    Commands.run("ip", "netns", "add", name).orThrow();
    List<String> notes = NetnsNetwork.removeLeftovers();
    assertTrue(notes.stream().anyMatch(n -> n.contains(name)), notes.toString());
    assertFalse(Commands.run("ip", "netns", "list").output().contains(name));
  }

  private static boolean harnessConnects(String host, int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(host, port), 2_000);
      return true;
    } catch (java.io.IOException e) {
      return false;
    }
  }
}
