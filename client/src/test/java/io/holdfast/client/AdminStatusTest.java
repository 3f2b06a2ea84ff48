package io.holdfast.client;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.grpc.stub.StreamObserver;
import io.holdfast.client.testing.FakeNode;
import io.holdfast.proto.v1.AdminServiceGrpc;
import io.holdfast.proto.v1.ClusterStatusRequest;
import io.holdfast.proto.v1.ClusterStatusResponse;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The cluster's status is asked of whichever configured endpoint answers, not only the first. */
class AdminStatusTest {
  @Test
  void aDownFirstEndpointDoesNotHideAHealthyCluster() throws Exception {
    AdminServiceGrpc.AdminServiceImplBase leader = new AdminServiceGrpc.AdminServiceImplBase() {
      @Override
      public void clusterStatus(ClusterStatusRequest req, StreamObserver<ClusterStatusResponse> out) {
        out.onNext(ClusterStatusResponse.newBuilder().setMemberId("n2").setRole("LEADER").setLeaderId("n2")
            .setClusterId("c-1").setTerm(3).build());
        out.onCompleted();
      }
    };
    int down;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      down = s.getLocalPort();
    }
    try (FakeNode node = FakeNode.serve(leader);
        HoldfastClient client = HoldfastClient.builder().endpoints("127.0.0.1:" + down, node.endpoint())
            .memberSync(Duration.ZERO).build()) {
      ClusterStatus status = client.admin().status();
      assertEquals("n2", status.memberId());
      assertEquals("LEADER", status.role());
      assertEquals(3, status.term());
    }
  }
}
