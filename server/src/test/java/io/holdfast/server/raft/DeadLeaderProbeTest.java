package io.holdfast.server.raft;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.InetAddress;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;

/** Only a refused connection counts as evidence that the leader's process is gone. */
class DeadLeaderProbeTest {

  @Test
  void aListeningPortIsAlive() throws Exception {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      assertEquals(DeadLeaderDetector.Probe.ACCEPTED, DeadLeaderDetector.probe("127.0.0.1:" + s.getLocalPort()));
    }
  }

  @Test
  void aClosedPortIsRefused() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    assertEquals(DeadLeaderDetector.Probe.REFUSED, DeadLeaderDetector.probe("127.0.0.1:" + port));
  }

  @Test
  void anAddressThatCannotBeReadIsNoEvidence() {
    assertEquals(DeadLeaderDetector.Probe.NO_ANSWER, DeadLeaderDetector.probe("no-port-here"));
    assertEquals(DeadLeaderDetector.Probe.NO_ANSWER, DeadLeaderDetector.probe("127.0.0.1:notaport"));
  }
}
