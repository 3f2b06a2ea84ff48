package io.holdfast.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.client.ClusterStatus;
import io.holdfast.client.HoldfastClient;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class DevClusterTest {
  @TempDir
  Path dir;

  /** A base port whose client and peer ranges are free right now. */
  static int freeBase(int nodes) {
    for (int base = 20_000 + (int) (ProcessHandle.current().pid() % 2_000) * 10; base < 60_000; base += 1_000) {
      boolean free = true;
      for (int i = 0; i < nodes && free; i++) {
        free = isFree(base + i) && isFree(base + 100 + i) && isFree(base + 200 + i);
      }
      if (free) {
        return base;
      }
    }
    throw new AssertionError("no free port range");
  }

  static boolean isFree(int port) {
    try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  DevCluster dev(int base) {
    DevCluster d = new DevCluster();
    new CommandLine(d).parseArgs("--base-port", Integer.toString(base), "--data-dir", dir.toString());
    return d;
  }

  @Test
  void startsALeaderElectedClusterAndResumesItOnTheSameDirectory() throws Exception {
    int base = freeBase(3);
    String clusterId;
    try (DevCluster d = dev(base)) {
      assertEquals(null, d.validate());
      StringWriter out = new StringWriter();
      String leader = d.start(new PrintWriter(out, true), new PrintWriter(new StringWriter(), true));
      assertTrue(leader != null, out.toString());
      String expected = "endpoints: 127.0.0.1:" + base + ",127.0.0.1:" + (base + 1) + ",127.0.0.1:" + (base + 2);
      assertTrue(out.toString().contains(expected), out.toString());
      assertTrue(out.toString().contains("leader: " + leader), out.toString());
      assertTrue(out.toString().contains("admin http://127.0.0.1:" + (base + 200)), out.toString());
      clusterId = Files.readString(dir.resolve("cluster-id")).trim();
      assertEquals(leader, leaderSeenByAll(d));
    }
    try (DevCluster again = dev(base)) {
      assertEquals(null, again.validate(), "every port is free again after a clean stop");
      assertTrue(again.start(new PrintWriter(new StringWriter(), true), new PrintWriter(new StringWriter(), true)) != null);
      assertEquals(clusterId, Files.readString(dir.resolve("cluster-id")).trim(), "the same cluster resumes");
      try (HoldfastClient c = HoldfastClient.builder().endpoints(again.endpoints()).build()) {
        assertEquals(clusterId, c.admin().status().clusterId());
      }
    }
  }

  String leaderSeenByAll(DevCluster d) throws Exception {
    try (HoldfastClient c = HoldfastClient.builder().endpoints(d.endpoints()).build()) {
      long end = System.nanoTime() + 20_000_000_000L;
      while (System.nanoTime() < end) {
        Set<String> leaders = new HashSet<>();
        for (String e : d.endpoints()) {
          ClusterStatus s = c.admin().memberStatus(e, Duration.ofSeconds(2));
          leaders.add(s.leaderId());
        }
        if (leaders.size() == 1 && !leaders.contains("")) {
          return leaders.iterator().next();
        }
        Thread.sleep(100);
      }
    }
    throw new AssertionError("the nodes never agreed on a leader");
  }

  @Test
  void refusesToResumeOnOtherPortsOrAnotherNodeCount() throws Exception {
    java.nio.file.Files.writeString(dir.resolve("nodes"), "3\n");
    java.nio.file.Files.writeString(dir.resolve("base-port"), "7400\n");
    DevCluster otherPort = dev(7600);
    assertTrue(otherPort.validate().contains("--base-port 7400"), otherPort.validate());
    DevCluster five = new DevCluster();
    new CommandLine(five).parseArgs("--nodes", "5", "--data-dir", dir.toString());
    assertTrue(five.validate().contains("--nodes 3"), five.validate());
  }

  @Test
  void refusesBadNodeCountsWithAUsageError() {
    StringWriter err = new StringWriter();
    CommandLine cl = HoldfastCli.commandLine();
    cl.setErr(new PrintWriter(err, true));
    assertEquals(2, cl.execute("dev", "--nodes", "4", "--data-dir", dir.toString()));
    assertTrue(err.toString().contains("--nodes must be 3 or 5"), err.toString());
  }
}
